import { describe, expect, it } from 'vitest';
import { plcRigPerTest, startLoupePlc, waitUntil } from '../../helpers/plc-loupe.js';
import { startPlcLine } from '../../helpers/plc-line.js';
import { startTestSim } from '../../helpers/plc-sim.js';

describe('PLC link loss and restarts', () => {
  const rig = plcRigPerTest();

  it('reconnects after the PLC server restarts mid-run, re-reads the counters, and mismatches nothing', async () => {
    const line = (rig.line = await startPlcLine({ policy: { passBelow: 0.3, failAtOrAbove: 0.5, auditRate: 0 }, review: { timeoutMs: 1000, safeVerdict: 'fail' } }));
    const s = await startTestSim(line.dir, line.log, { runLine: false, partsPerMin: 300, resultTimeoutMs: 3000, finalTimeoutMs: 10_000 });
    rig.sim = s;
    rig.loupe = await startLoupePlc(line, { endpoint: s.endpointUrl });
    await waitUntil('Ready', () => s.read('Ready') === true && s.loupeAlive, 15_000);
    s.setLine(true);
    await waitUntil('a dozen results', () => s.summary().results >= 12, 20_000, () => s.summary());
    const before = s.summary().results;
    await s.restartServer(1000);
    const restartedAt = performance.now();
    // Parts triggered after the restart get real verdicts: the session and its subscription came back.
    const judged = () => s.history.filter((p) => p.triggeredAt > restartedAt && p.verdict !== null && p.verdict !== 'no-result');
    await waitUntil('eight verdicts after the restart', () => judged().length >= 8, 45_000, () => s.summary());
    s.setLine(false);
    await waitUntil('the line to empty', () => s.summary().waiting === 0 && s.summary().held === 0, 20_000, () => s.summary());

    const x = s.summary();
    expect(x).toMatchObject({ mismatched: 0, duplicates: 0, sequenceErrors: 0, partialErrors: 0 });
    expect(x.results).toBeGreaterThanOrEqual(before + 8);
    // Every part the PLC sent either got exactly one result or was diverted by the PLC itself: none went through unjudged.
    for (const p of s.history) expect(p.outcome === 'accepted' ? p.verdict === 'pass' || p.final === 'pass' : true).toBe(true);
    const synced = line.lines.filter((l) => /handshake with the PLC in step/.test(l.msg));
    expect(synced.length).toBeGreaterThanOrEqual(2);
    // The restored session stays healthy: heartbeats keep flowing both ways.
    const beat = s.read('LoupeHeartbeat');
    await new Promise((r) => setTimeout(r, 2500));
    expect(s.read('LoupeHeartbeat')).not.toBe(beat);
    expect(s.loupeAlive).toBe(true);
    expect(s.read('Ready')).toBe(true);
  });

  it('keeps its session through a network interruption and carries on', async () => {
    const line = (rig.line = await startPlcLine({ policy: { passBelow: 0.3, failAtOrAbove: 0.5, auditRate: 0 } }));
    const s = await startTestSim(line.dir, line.log, { runLine: false, partsPerMin: 300, resultTimeoutMs: 3000 });
    rig.sim = s;
    rig.loupe = await startLoupePlc(line, { endpoint: s.endpointUrl });
    await waitUntil('Ready', () => s.read('Ready') === true && s.loupeAlive, 15_000);
    s.setLine(true);
    await waitUntil('five results', () => s.summary().results >= 5, 15_000);
    await s.interruptLink(1500);
    const after = s.summary().results;
    await waitUntil('five more results', () => s.summary().results >= after + 5, 20_000, () => s.summary());
    s.setLine(false);
    await waitUntil('the line to empty', () => s.summary().waiting === 0, 10_000);
    expect(s.summary()).toMatchObject({ mismatched: 0, duplicates: 0, sequenceErrors: 0, partialErrors: 0 });
    const l = line;
    // The same session came back: restored, never built anew, and only one on the PLC.
    expect(l.lines.filter((x) => /PLC session at .* restored/.test(x.msg)).length).toBeGreaterThanOrEqual(1);
    expect(l.lines.filter((x) => /connected to the PLC at/.test(x.msg))).toHaveLength(1);
    expect(s.sessions).toBe(1);
  });

  it('carries on from the PLC counters after Loupe restarts', async () => {
    const line = (rig.line = await startPlcLine({ policy: { passBelow: 0.3, failAtOrAbove: 0.5, auditRate: 0 } }));
    const s = await startTestSim(line.dir, line.log, { runLine: false, partsPerMin: 400, resultTimeoutMs: 3000 });
    rig.sim = s;
    const first = (rig.loupe = await startLoupePlc(line, { endpoint: s.endpointUrl }));
    await waitUntil('Ready', () => s.read('Ready') === true && s.loupeAlive, 15_000);
    s.setLine(true);
    await waitUntil('five results', () => s.summary().results >= 5, 15_000);
    s.setLine(false);
    await waitUntil('the line to empty', () => s.summary().waiting === 0, 5000);
    await first.stop();
    const before = s.summary().results;
    expect(s.read('ResultSeq')).toBe(before);
    rig.loupe = await startLoupePlc(line, { endpoint: s.endpointUrl });
    await waitUntil('Ready again', () => s.read('Ready') === true && s.loupeAlive, 15_000);
    s.setLine(true);
    await waitUntil('five more results', () => s.summary().results >= before + 5, 15_000, () => s.summary());
    s.setLine(false);
    await waitUntil('the line to empty', () => s.summary().waiting === 0, 5000);
    // ResultSeq went on from where the PLC had it: one step per result, no restart at 0.
    expect(s.read('ResultSeq')).toBe(s.summary().results);
    expect(s.summary()).toMatchObject({ mismatched: 0, duplicates: 0, sequenceErrors: 0 });
  });
});
