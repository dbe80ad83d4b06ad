import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Inspection } from '../../../gateway/src/inspect/inspection.js';
import { loginCookie, startTestGateway, waitFor, type TestGateway } from '../../helpers/gateway-harness.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';
import { demoVersion, incoming, removeVariants, station } from './model-fixtures.js';

/** A candidate that fails every part: whatever it says must never show on the line. */
const CONTRARIAN = { passBelow: 0, failAtOrAbove: 0.000001 };

/** What the line and the PLC learn about a part. */
function seen(i: Inspection) {
  return { sourceRef: i.sourceRef, modelVerdict: i.modelVerdict, verdict: i.verdict, defectScore: i.defectScore, defectClass: i.defectClass, modelVersion: i.modelVersion, reason: i.reason, state: i.state, audit: i.audit };
}

/** Trigger `n` parts one after the other, leaving the shadow (if any) time for each, as a line with gaps does. */
async function runParts(gw: TestGateway, n: number): Promise<Inspection[]> {
  const s = gw.gateway.stations.get('station-1');
  if (!s) throw new Error('no station');
  const out: Inspection[] = [];
  for (let k = 0; k < n; k++) {
    out.push(await s.trigger({ via: 'api' }));
    await new Promise((r) => setImmediate(r));
    await gw.gateway.models.shadows.runner('station-1')?.whenIdle();
  }
  return out;
}

describe('shadow mode', () => {
  const gateways: TestGateway[] = [];
  const start = async (config: Parameters<typeof startTestGateway>[0]) => {
    const g = await startTestGateway(config);
    gateways.push(g);
    return g;
  };

  afterAll(async () => {
    for (const g of gateways) await g.cleanup();
    removeVariants();
    await expectNoOpenSockets();
  });

  it('leaves every announced verdict and stored row exactly as without a shadow, and records what the candidate said', async () => {
    const alone = await start({ config: { stations: [station()] } });
    const shadowed = await start({ config: { stations: [station()] } });
    await shadowed.gateway.models.register(incoming(demoVersion('9.0.0-contrarian', CONTRARIAN)));
    await shadowed.gateway.models.startShadow('station-1', 'demo-part', '9.0.0-contrarian', { actor: 'eng1', reason: 'compare' });

    const a = await runParts(alone, 40);
    const b = await runParts(shadowed, 40);
    expect(b.map(seen)).toEqual(a.map(seen));
    expect(b.some((i) => i.modelVerdict === 'pass')).toBe(true);
    const rows = shadowed.gateway.store.inspections.list({ station: 'station-1', limit: 100 }).reverse();
    expect(rows.map(seen)).toEqual(b.map(seen));

    const report = shadowed.gateway.models.report('station-1');
    expect(report).toMatchObject({ running: true, candidate: { version: '9.0.0-contrarian', passBelow: 0, failAtOrAbove: 0.000001 } });
    expect(report.parts).toBeGreaterThanOrEqual(35);
    const m = report.agreement.matrix;
    expect(m.pass.fail).toBeGreaterThan(0);
    expect([m.pass.pass, m.pass.review, m.fail.pass, m.fail.review, m.review.pass, m.review.review]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(report.agreement.share).toBeLessThan(1);
    const stopped = await shadowed.gateway.models.stopShadow('station-1', { actor: 'eng1', reason: 'seen enough' });
    expect(stopped.stoppedBy).toBe('eng1');
    expect(shadowed.gateway.models.history('station-1', { limit: 2 }).map((e) => e.action)).toEqual(['shadow-stop', 'shadow-start']);
  });

  it('sends the PLC the active model\'s verdicts while a contrarian candidate runs in shadow', async () => {
    const gw = await start({
      config: {
        stations: [station({ trigger: { type: 'plc' } })],
        plc: {
          simulator: { enabled: true, port: 0, partsPerMin: 900, heartbeatMs: 100 },
          client: { enabled: true, securityMode: 'None', heartbeatMs: 100, plcHeartbeatTimeoutMs: 1000 },
          server: { enabled: false },
        },
      },
    });
    const s = gw.gateway.stations.get('station-1');
    if (!s) throw new Error('no station');
    await gw.gateway.models.register(incoming(demoVersion('9.0.1-contrarian', CONTRARIAN)));
    await gw.gateway.models.startShadow('station-1', 'demo-part', '9.0.1-contrarian', { actor: 'eng1', reason: 'plc check' });
    await waitFor(() => s.status().parts >= 30, 30_000, '30 parts from the simulated PLC');
    await s.stop(5000);
    const stored = gw.gateway.store.inspections.list({ station: 'station-1', limit: 10_000 });
    const plc = async () => {
      const m = await gw.gateway.metrics.plcResults.get();
      return Object.fromEntries(m.values.filter((v) => v.labels.station === 'station-1').map((v) => [String(v.labels.verdict), v.value]));
    };
    await waitFor(async () => {
      const r = await plc();
      return (r.pass ?? 0) + (r.fail ?? 0) + (r.hold ?? 0) + (r['no-result'] ?? 0) === stored.length;
    }, 10_000, 'a PLC result for every stored part');
    const sent = await plc();
    const count = (v: string) => stored.filter((i) => i.modelVerdict === v).length;
    expect({ pass: sent.pass ?? 0, fail: sent.fail ?? 0, hold: sent.hold ?? 0 }).toEqual({ pass: count('pass'), fail: count('fail'), hold: count('review') });
    expect(count('pass')).toBeGreaterThan(0);
    const report = gw.gateway.models.report('station-1');
    expect(report.parts).toBeGreaterThan(0);
    expect(report.agreement.matrix.pass.fail).toBeGreaterThan(0);
  });

  it('skips parts rather than queueing them when the line leaves it no time', async () => {
    const gw = await start({ config: { stations: [station({ trigger: { type: 'interval', intervalMs: 1 }, maxInFlight: 2, maxQueued: 2 })] } });
    const s = gw.gateway.stations.get('station-1');
    if (!s) throw new Error('no station');
    await gw.gateway.models.register(incoming(demoVersion('1.5.0')));
    await gw.gateway.models.startShadow('station-1', 'demo-part', '1.5.0', { actor: 'eng1', reason: 'busy line' });
    await waitFor(() => s.status().parts >= 80, 30_000, '80 parts');
    const live = gw.gateway.models.shadows.current('station-1');
    await s.stop(5000);
    expect(live?.stats.skipped).toBeGreaterThan(0);
    const stats = gw.gateway.models.shadows.current('station-1')?.stats;
    expect((stats?.compared ?? 0) + (stats?.skipped ?? 0)).toBeLessThanOrEqual(s.status().parts);
    expect(gw.gateway.store.inspections.list({ station: 'station-1', limit: 10_000 }).filter((i) => i.state === 'error')).toEqual([]);
  });

  it('reports agreement with operator-confirmed outcomes and gates promotion on it', async () => {
    const gw = await start({ config: { stations: [station({ camera: { type: 'synthetic', seed: 9, defectRate: 0.4, widthPx: 128, heightPx: 128, brightness: 0.6 } })], models: { promote: { minShadowParts: 20, minConfirmedParts: 3 } } } });
    const models = gw.gateway.models;
    await models.register(incoming(demoVersion('1.6.0')));
    await models.register(incoming(demoVersion('9.0.2-contrarian', CONTRARIAN)));
    const operator = (parts: Inspection[]) => {
      for (const i of parts.filter((p) => p.state === 'awaiting-review')) {
        gw.gateway.review.decide({ decisionId: `d-${i.id}`, inspectionId: i.id, verdict: i.truth?.label === 'good' ? 'pass' : 'fail', defectClass: i.truth?.label === 'good' ? null : (i.truth?.label ?? null), operatorId: 'op1' });
      }
      return parts.filter((p) => p.state === 'awaiting-review').length;
    };

    await models.startShadow('station-1', 'demo-part', '9.0.2-contrarian', { actor: 'eng1', reason: 'bad candidate' });
    expect(operator(await runParts(gw, 30))).toBeGreaterThanOrEqual(3);
    await models.stopShadow('station-1', { actor: 'eng1', reason: 'done' });
    const cookie = await loginCookie(gw.url, 'admin', '2580');
    const promote = (version: string) =>
      fetch(`${gw.url}/api/models/station-1/promote`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ modelId: 'demo-part', version, reason: 'shadow looked fine' }) });
    const refused = await promote('9.0.2-contrarian');
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: 'LOUPE_ERR_MODEL_PROMOTE_GATE', details: { reasons: [expect.stringMatching(/costs/)] } });

    await models.startShadow('station-1', 'demo-part', '1.6.0', { actor: 'eng1', reason: 'same weights, same thresholds' });
    const confirmed = operator(await runParts(gw, 30));
    const res = await fetch(`${gw.url}/api/models/station-1/shadow/report`, { headers: { cookie } });
    const report = (await res.json()) as { parts: number; agreement: { share: number }; confirmed: { parts: number; active: { cost: number }; candidate: { cost: number } }; gate: { ok: boolean } };
    expect(report.agreement.share).toBe(1);
    expect(report.confirmed.parts).toBeLessThanOrEqual(confirmed);
    expect(report.confirmed.candidate.cost).toBe(report.confirmed.active.cost);
    expect(report.parts).toBeGreaterThanOrEqual(20);
    expect(report.confirmed.parts).toBeGreaterThanOrEqual(3);
    expect(report.gate.ok).toBe(true);
    expect((await promote('1.6.0')).status).toBe(200);
    expect(models.shadows.current('station-1')).toBeNull();
    expect(models.history('station-1', { limit: 2 }).map((e) => e.action)).toEqual(['promote', 'shadow-stop']);
  });

  it('resumes a shadow run after a restart under the same run id, and closes one whose package is gone', async () => {
    let gw = await start({ config: { stations: [station()] } });
    await gw.gateway.models.register(incoming(demoVersion('1.7.0')));
    await gw.gateway.models.register(incoming(demoVersion('1.8.0')));
    const run = await gw.gateway.models.startShadow('station-1', 'demo-part', '1.7.0', { actor: 'eng1', reason: 'a week of evidence' });
    await runParts(gw, 10);
    const before = gw.gateway.models.shadows.current('station-1')?.stats;
    expect(before?.compared).toBe(10);

    gw = await gw.restart();
    gateways.push(gw);
    const resumed = gw.gateway.models.shadows.current('station-1');
    expect(resumed?.run.id).toBe(run.id);
    expect(resumed?.stats).toEqual(before);
    await runParts(gw, 5);
    expect(gw.gateway.models.shadows.current('station-1')?.stats.compared).toBe(15);
    // The stop a person makes is the only one in the history: restarts leave no trace there.
    expect(gw.gateway.models.history('station-1', { limit: 10 }).filter((e) => e.action.startsWith('shadow')).map((e) => e.action)).toEqual(['shadow-start']);

    // The package vanishes from disk while the gateway is down: the run is closed at start, the station runs on.
    await gw.gateway.models.stopShadow('station-1', { actor: 'eng1', reason: 'next candidate' });
    const second = await gw.gateway.models.startShadow('station-1', 'demo-part', '1.8.0', { actor: 'eng1', reason: 'try 1.8' });
    await gw.stop();
    rmSync(join(gw.dataDir, 'models', 'demo-part', '1.8.0'), { recursive: true, force: true });
    gw = await gw.restart();
    gateways.push(gw);
    expect(gw.gateway.models.shadows.current('station-1')).toBeNull();
    const closed = gw.gateway.store.db.prepare('SELECT stopped_by FROM shadow_run WHERE id = ?').get(second.id) as { stopped_by: string };
    expect(closed.stopped_by).toMatch(/^gateway restart: the candidate cannot be loaded/);
    expect((await runParts(gw, 2)).every((i) => i.state !== 'error')).toBe(true);
  });
});
