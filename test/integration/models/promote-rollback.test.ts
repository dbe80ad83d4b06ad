import { afterAll, describe, expect, it } from 'vitest';
import { isLoupeError } from '../../../gateway/src/errors.js';
import type { Inspection } from '../../../gateway/src/inspect/inspection.js';
import { loginCookie, startTestGateway, waitFor, type TestGateway } from '../../helpers/gateway-harness.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';
import { demoVersion, incoming, removeVariants, station } from './model-fixtures.js';

/** Every part the store holds for the station, in trigger order. */
function storedParts(gw: TestGateway): Inspection[] {
  return gw.gateway.store.inspections.list({ station: 'station-1', limit: 100_000 }).reverse();
}

describe('promotion and rollback take effect between parts', () => {
  const gateways: TestGateway[] = [];

  afterAll(async () => {
    for (const g of gateways) await g.cleanup();
    removeVariants();
    await expectNoOpenSockets();
  });

  it('switches a free-running line forth and back without losing, repeating or failing a part, and records who and why', async () => {
    const gw = await startTestGateway({ config: { stations: [station({ trigger: { type: 'interval', intervalMs: 20 }, maxInFlight: 2, maxQueued: 8 })] } });
    gateways.push(gw);
    const models = gw.gateway.models;
    const s = gw.gateway.stations.get('station-1');
    if (!s) throw new Error('no station');
    const announced: Inspection[] = [];
    s.on('inspected', (i) => announced.push(i));
    await models.register(incoming(demoVersion('1.1.0')));

    await waitFor(() => announced.length >= 30, 20_000, '30 parts on the old model');
    const refused = await models.promote('station-1', 'demo-part', '1.1.0', { actor: 'eng1', reason: 'try it', force: false }).catch((e: unknown) => e);
    expect(isLoupeError(refused, 'LOUPE_ERR_MODEL_PROMOTE_GATE')).toBe(true);

    const promoted = await models.promote('station-1', 'demo-part', '1.1.0', { actor: 'eng1', reason: 'lighting changed; shadow skipped in this test', force: true });
    expect(promoted).toMatchObject({ source: 'registry', version: '1.1.0' });
    const atPromote = announced.length;
    await waitFor(() => announced.length >= atPromote + 30, 20_000, '30 parts on the new model');
    await models.rollback('station-1', { actor: 'eng2', reason: 'escapes went up' });
    const atRollback = announced.length;
    await waitFor(() => announced.length >= atRollback + 30, 20_000, '30 parts after the rollback');
    await s.stop(5000);

    const stored = storedParts(gw);
    // No part lost or counted twice: every frame grabbed became exactly one recorded, announced part.
    const refs = stored.map((i) => Number(i.sourceRef?.split(':')[1]));
    expect(refs).toEqual(refs.map((_, n) => n));
    expect(announced.map((i) => i.id)).toEqual(stored.map((i) => i.id));
    expect(s.status().parts).toBe(stored.length);
    expect(stored.filter((i) => i.state === 'error')).toEqual([]);

    // One switch each way, at a part boundary: old, then new, then old again.
    const runs: { version: string; parts: number }[] = [];
    for (const i of stored) {
      const last = runs.at(-1);
      if (last?.version === i.modelVersion) last.parts++;
      else runs.push({ version: i.modelVersion, parts: 1 });
    }
    expect(runs.map((r) => r.version)).toEqual(['1.0.0', '1.1.0', '1.0.0']);
    expect(runs.every((r) => r.parts >= 25)).toBe(true);

    const history = models.history('station-1', { limit: 10 });
    expect(history.slice(0, 3).map((e) => [e.action, e.actor, e.reason])).toEqual([
      ['rollback', 'eng2', 'escapes went up'],
      ['promote', 'eng1', 'lighting changed; shadow skipped in this test'],
      ['promote-refused', 'eng1', 'try it'],
    ]);
    expect(history[1]?.detail).toMatchObject({ forced: true });
    expect(history[0]).toMatchObject({ model: { source: 'config', version: '1.0.0' }, previous: { source: 'registry', version: '1.1.0' } });
    const rolledBack = await models.rollback('station-1', { actor: 'eng2', reason: 'again' }).catch((e: unknown) => e);
    expect(isLoupeError(rolledBack, 'LOUPE_ERR_MODEL_NO_ROLLBACK')).toBe(true);
  });

  it('keeps a promotion across a restart, and rolls back through the API', async () => {
    let gw = await startTestGateway({ config: { stations: [station()] } });
    gateways.push(gw);
    await gw.gateway.models.register(incoming(demoVersion('1.4.0')));
    const admin = await loginCookie(gw.url, 'admin', '2580');
    const promote = await fetch(`${gw.url}/api/models/station-1/promote`, {
      method: 'POST',
      headers: { cookie: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ modelId: 'demo-part', version: '1.4.0', reason: 'validated offline', force: true }),
    });
    expect(promote.status).toBe(200);
    expect(await promote.json()).toMatchObject({ active: { source: 'registry', version: '1.4.0' }, rollbackTo: { source: 'config', version: '1.0.0' } });

    gw = await gw.restart();
    gateways.push(gw);
    expect(gw.gateway.stations.get('station-1')?.status().model.version).toBe('1.4.0');
    const cookie = await loginCookie(gw.url, 'admin', '2580');
    const op = await loginCookie(gw.url, 'op1', '1234');
    const rollback = (c: string) =>
      fetch(`${gw.url}/api/models/station-1/rollback`, { method: 'POST', headers: { cookie: c, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'back to shipped model' }) });
    expect((await rollback(op)).status).toBe(403);
    const res = await rollback(cookie);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ active: { source: 'config', version: '1.0.0' }, rollbackTo: null });
    const part = await gw.gateway.stations.get('station-1')?.trigger({ via: 'api' });
    expect(part?.modelVersion).toBe('1.0.0');
  });
});
