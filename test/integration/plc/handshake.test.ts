import { DataType } from 'node-opcua';
import { describe, expect, it } from 'vitest';
import { plcRigPerTest, startLoupePlc, waitUntil } from '../../helpers/plc-loupe.js';
import { DEMO_MODEL, startPlcLine } from '../../helpers/plc-line.js';
import { startTestSim } from '../../helpers/plc-sim.js';

describe('PLC handshake over OPC UA', () => {
  const rig = plcRigPerTest();

  /** A line, a simulated PLC that waits for Ready, and Loupe's client connected to it. */
  async function setUp(
    station: Parameters<typeof startPlcLine>[0],
    simOver: Parameters<typeof startTestSim>[2] = {},
    client: Parameters<typeof startLoupePlc>[1]['client'] = {},
    lineOpts: Parameters<typeof startPlcLine>[1] = {},
  ) {
    const line = (rig.line = await startPlcLine(station, lineOpts));
    const sim = (rig.sim = await startTestSim(line.dir, line.log, { runLine: false, ...simOver }));
    const loupe = (rig.loupe = await startLoupePlc(line, { endpoint: sim.endpointUrl, client }));
    const s = sim;
    await waitUntil('Ready and LoupeHeartbeat', () => s.read('Ready') === true && s.loupeAlive, 15_000);
    return { line, sim: s, loupe };
  }

  it('holds a part for review, then sends the operator decision as its final verdict', async () => {
    const { line, sim } = await setUp({ policy: { passBelow: 0, failAtOrAbove: 1, auditRate: 0 } }, { partsPerMin: 200, maxParts: 4 });
    line.review.on('added', (i) => {
      setTimeout(() => line.review.decide({ decisionId: `d-${i.id}`, inspectionId: i.id, verdict: i.partId.endsWith('1') ? 'pass' : 'fail', defectClass: 'other', operatorId: 'op1' }), 300);
    });
    sim.setLine(true);
    await waitUntil('four final verdicts', () => sim.summary().finals.pass + sim.summary().finals.fail === 4, 20_000, () => sim.summary());
    const parts = sim.history.filter((p) => p.verdict !== null);
    expect(parts.map((p) => [p.partId, p.verdict, p.final])).toEqual([
      ['P-000001', 'hold', 'pass'],
      ['P-000002', 'hold', 'fail'],
      ['P-000003', 'hold', 'fail'],
      ['P-000004', 'hold', 'fail'],
    ]);
    for (const p of parts) expect(p.finalLatencyMs).toBeGreaterThan(p.latencyMs ?? Infinity);
    expect(sim.summary()).toMatchObject({ mismatched: 0, duplicates: 0, sequenceErrors: 0, partialErrors: 0, accepted: 1 });
    expect(sim.read('FinalSeq')).toBe(4);
    expect(sim.read('FinalAckSeq')).toBe(4);
  });

  it.each(['fail', 'pass'] as const)('gives the safe verdict (%s) when nobody reviews the part in time', async (safeVerdict) => {
    const { line, sim } = await setUp({ policy: { passBelow: 0, failAtOrAbove: 1, auditRate: 0 }, review: { timeoutMs: 1000, safeVerdict } }, { partsPerMin: 200, maxParts: 2 });
    sim.setLine(true);
    await waitUntil('two final verdicts', () => sim.summary().finals[safeVerdict] === 2, 15_000, () => sim.summary());
    for (const p of sim.history) {
      expect(p).toMatchObject({ verdict: 'hold', final: safeVerdict });
      // The review timeout runs from the trigger: the final verdict comes after it, not before.
      expect(p.finalLatencyMs).toBeGreaterThanOrEqual(1000);
    }
    const decided = line.store.inspections.list({ station: 'station-1', limit: 10 });
    expect(decided.map((i) => i.decidedBy)).toEqual(['timeout', 'timeout']);
  });

  it('never sends pass after the deadline: a late verdict becomes no-result', async () => {
    const { line, sim } = await setUp({ deadlineMs: 50, policy: { passBelow: 0.99, failAtOrAbove: 1, auditRate: 0 } }, { partsPerMin: 200, maxParts: 4 }, {}, { grabDelayMs: 80 });
    sim.setLine(true);
    await waitUntil('four results', () => sim.summary().results === 4, 15_000, () => sim.summary());
    for (const p of sim.history) expect(p, JSON.stringify(p)).toMatchObject({ verdict: 'no-result', errorCode: 2, outcome: 'diverted' });
    expect(sim.summary().verdicts.pass).toBe(0);
    // Loupe's own record keeps what the model said; only the PLC was told no-result.
    await waitUntil('four inspections on record', () => line.store.inspections.list({ station: 'station-1', limit: 10 }).length === 4);
    expect(line.store.inspections.list({ station: 'station-1', limit: 10 }).some((i) => i.modelVerdict === 'pass')).toBe(true);
  });

  it('counts parts the PLC triggered faster than Loupe acknowledged in MissedCount', async () => {
    const { sim } = await setUp({}, { partsPerMin: 60, maxParts: 0, resultTimeoutMs: 1500 });
    sim.triggerBurst(3);
    await waitUntil('MissedCount 2', () => sim.read('MissedCount') === 2, 5000);
    await waitUntil('the latched part to leave the line', () => sim.summary().waiting === 0 && sim.summary().results === 1, 5000, () => sim.summary());
    const [a, b, c] = sim.history;
    expect([a?.divertReason, b?.divertReason]).toEqual(['no-result:skipped', 'no-result:skipped']);
    expect(c?.verdict).not.toBeNull();
    expect(sim.summary()).toMatchObject({ mismatched: 0, duplicates: 0, missingResults: 2 });
  });

  it('sets Overrun when the PLC stops acknowledging, and clears it when Enable is raised again', async () => {
    const { line, sim, loupe } = await setUp({ policy: { passBelow: 0.99, failAtOrAbove: 1, auditRate: 0 } }, { partsPerMin: 300, maxParts: 6, resultTimeoutMs: 2000 }, { resultQueueDepth: 2 });
    sim.holdAcknowledgements(true);
    sim.setLine(true);
    await waitUntil('Overrun', () => sim.read('Overrun') === true, 10_000);
    await waitUntil('every part latched and inspected', () => sim.summary().partsArrived === 6 && line.station.status().parts === sim.summary().triggered, 10_000, () => sim.summary());
    const triggered = sim.summary().triggered;
    expect(triggered).toBeGreaterThanOrEqual(4);
    sim.holdAcknowledgements(false);
    await waitUntil('the line to empty', () => sim.summary().waiting === 0, 10_000, () => sim.summary());
    const s = sim.summary();
    // Two results were held for the PLC; the others got none, so the PLC diverted them: none passed unseen.
    expect(s.results).toBe(2);
    expect(s.missingResults + (s.diverted['result-timeout'] ?? 0)).toBe(triggered - 2);
    expect(s).toMatchObject({ mismatched: 0, duplicates: 0, sequenceErrors: 0 });
    expect((await line.metrics.plcOverruns.get()).values.find((v) => v.labels.channel === 'result')?.value).toBe(triggered - 2);
    expect(loupe.handshakes.get('station-1')?.status().overrun).toBe(true);
    sim.setEnable(false);
    await waitUntil('Ready 0 while Enable is 0', () => sim.read('Ready') === false, 5000);
    sim.setEnable(true);
    await waitUntil('Overrun cleared', () => sim.read('Overrun') === false && sim.read('Ready') === true, 5000);
  });

  it('drops Ready when the PLC heartbeat goes stale, and raises it when it beats again', async () => {
    const { sim, loupe } = await setUp({}, { partsPerMin: 600 });
    sim.stallHeartbeat(true);
    await waitUntil('Ready 0', () => sim.read('Ready') === false, 5000);
    expect(loupe.handshakes.get('station-1')?.ready.reason).toMatch(/PlcHeartbeat unchanged/);
    sim.setLine(true);
    await waitUntil('parts diverted while not ready', () => (sim.summary().notTriggered['not-ready'] ?? 0) >= 2, 5000, () => sim.summary());
    expect(sim.summary().triggered).toBe(0);
    sim.stallHeartbeat(false);
    await waitUntil('Ready 1', () => sim.read('Ready') === true, 5000);
    await waitUntil('parts flowing again', () => sim.summary().results >= 2, 5000, () => sim.summary());
  });

  it('writes every tag with the data type the PLC declares, wrapping counters at its width', async () => {
    const types = {
      TriggerSeq: DataType.Int16,
      TriggerAck: DataType.Int16,
      ResultSeq: DataType.Byte,
      ResultAckSeq: DataType.Byte,
      Verdict: DataType.Byte,
      ResultState: DataType.Int16,
      ProcessingMs: DataType.UInt32,
      ErrorCode: DataType.Int32,
      MissedCount: DataType.UInt16,
      PlcHeartbeat: DataType.Boolean,
      LoupeHeartbeat: DataType.Boolean,
      RecipeId: DataType.String,
    };
    const { sim } = await setUp({ policy: { passBelow: 0.3, failAtOrAbove: 0.5, auditRate: 0 } }, { partsPerMin: 200, maxParts: 5, types, initial: { TriggerSeq: 32_766, TriggerAck: 32_766, ResultSeq: 254, ResultAckSeq: 254 } });
    sim.setLine(true);
    await waitUntil('five results', () => sim.summary().results === 5, 15_000, () => sim.summary());
    expect(sim.read('TriggerSeq')).toBe(-32_765);
    expect(sim.read('TriggerAck')).toBe(-32_765);
    expect(sim.read('ResultSeq')).toBe(3);
    expect(typeof sim.read('ProcessingMs')).toBe('number');
    expect(sim.summary()).toMatchObject({ mismatched: 0, duplicates: 0, sequenceErrors: 0, missingResults: 0 });
  });

  it('names the tag declared with a data type the handshake cannot use, once', async () => {
    const line = (rig.line = await startPlcLine());
    const sim = (rig.sim = await startTestSim(line.dir, line.log, { runLine: false, types: { Verdict: DataType.String } }));
    const loupe = (rig.loupe = await startLoupePlc(line, { endpoint: sim.endpointUrl }));
    const conn = loupe.connection;
    await waitUntil('a tag type error', () => conn?.lastError?.code === 'LOUPE_ERR_PLC_TAG_TYPE', 10_000);
    expect(conn?.lastError?.details).toMatchObject({ tag: 'Verdict', declared: 'String' });
    expect(conn?.lastError?.message).toMatch(/^Verdict \(ns=1;s=LoupeIF\.Verdict\) is declared String on the PLC, expected a scalar /);
    await new Promise((r) => setTimeout(r, 1500)); // several more connect attempts
    const l = line;
    expect(l.lines.filter((x) => x.code === 'LOUPE_ERR_PLC_TAG_TYPE')).toHaveLength(1);
    expect(loupe.links[0]).toMatchObject({ name: 'plc', state: 'down', detail: expect.stringContaining('Verdict') });
    expect(sim.read('Ready')).toBe(false);
  });

  it('switches the station to the model and thresholds of the recipe the PLC selects', async () => {
    const { line, sim } = await setUp({}, {}, { blocks: [{ recipes: { '7': { passBelow: 0.05, failAtOrAbove: 0.06 }, '8': { modelPath: DEMO_MODEL, passBelow: 0.4, failAtOrAbove: 0.45 } } }] });
    const base = line.station.detector;
    const baseThresholds = line.station.thresholds;
    sim.setRecipe(7);
    await waitUntil('recipe 7 thresholds', () => line.station.thresholds.passBelow === 0.05, 5000);
    expect(line.station.detector).toBe(base);
    sim.setRecipe(8);
    await waitUntil('recipe 8 model', () => line.station.detector !== base && line.station.thresholds.passBelow === 0.4, 10_000);
    await waitUntil('Ready after loading', () => sim.read('Ready') === true, 5000);
    sim.setRecipe(9);
    await waitUntil('Ready 0 for an unknown recipe', () => sim.read('Ready') === false, 5000);
    expect(line.lines.some((l) => l.code === 'LOUPE_ERR_PLC_RECIPE' && l.recipe === '9')).toBe(true);
    sim.setRecipe(0);
    await waitUntil('the station model again', () => line.station.detector === base && sim.read('Ready') === true, 5000);
    expect(line.station.thresholds).toEqual(baseThresholds);
  });

  it('acknowledges a trigger only once the camera has the frame, so the PLC does not move the part too early', async () => {
    const { sim } = await setUp({}, { partsPerMin: 60, maxParts: 1 }, {}, { grabDelayMs: 600 });
    sim.setLine(true);
    await waitUntil('the trigger', () => sim.history.length === 1, 10_000);
    const part = sim.history[0];
    let ackedAt = 0;
    await waitUntil('TriggerAck', () => {
      if (sim.read('TriggerAck') === part?.triggerSeq) ackedAt = performance.now();
      return ackedAt > 0;
    }, 10_000);
    // The camera takes 600 ms to deliver; the acknowledgement cannot come before that.
    expect(ackedAt - (part?.triggeredAt ?? 0)).toBeGreaterThanOrEqual(550);
    await waitUntil('the result', () => sim.summary().finals !== undefined && part?.verdict !== null, 10_000);
    expect(sim.summary()).toMatchObject({ mismatched: 0, duplicates: 0, sequenceErrors: 0 });
  });
});
