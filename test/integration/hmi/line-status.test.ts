import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestShiftStart } from '../../../gateway/src/api/line-status.js';
import { reviewStation, shiftStartedAnHourAgo, startTestGateway, triggerPart, type TestGateway } from '../../helpers/gateway-harness.js';

describe('line status', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    // One station decides by itself (confident verdicts), one sends everything to review.
    gw = await startTestGateway({
      config: { hmi: { shiftStarts: shiftStartedAnHourAgo() }, stations: [reviewStation('station-1'), reviewStation('station-2', { policy: { passBelow: 0.5, failAtOrAbove: 0.5, auditRate: 0 } })] },
    });
  });

  afterAll(async () => {
    await gw?.cleanup();
  });

  it('starts the shift at the latest configured start, also across midnight', () => {
    const at = (s: string) => new Date(s).getTime();
    const starts = ['06:00', '14:00', '22:00'];
    expect(latestShiftStart(starts, at('2026-11-25T13:59:00'))).toBe(at('2026-11-25T06:00:00'));
    expect(latestShiftStart(starts, at('2026-11-25T14:00:00'))).toBe(at('2026-11-25T14:00:00'));
    expect(latestShiftStart(starts, at('2026-11-26T03:30:00'))).toBe(at('2026-11-25T22:00:00'));
    expect(latestShiftStart(['06:00'], at('2026-11-25T05:00:00'))).toBe(at('2026-11-24T06:00:00'));
  });

  it('counts the shift yield from final verdicts, with parts in review apart, and survives a restart', async () => {
    for (let n = 0; n < 3; n++) await triggerPart(gw, 'station-1');
    const decided = [];
    for (let n = 0; n < 4; n++) decided.push(await triggerPart(gw, 'station-2'));
    const operatorSaid = gw.gateway.review.list('station-1')[0]!;
    gw.gateway.review.decide({ decisionId: 'yield-test-1', inspectionId: operatorSaid.id, verdict: 'pass', operatorId: 'op1' });

    const read = async (g: TestGateway) => (await (await fetch(`${g.url}/api/status`)).json()) as { shift: Record<string, number | null>; stations: { id: string; reviewBacklog: number; shift: Record<string, number> }[]; recent: unknown[] };
    const pass = decided.filter((i) => i.verdict === 'pass').length;
    const fail = decided.filter((i) => i.verdict === 'fail').length;
    const expected = { pass: pass + 1, fail, review: 2, error: 0 };
    const before = await read(gw);
    expect(before.shift).toMatchObject({ ...expected, yield: expected.pass / (expected.pass + expected.fail) });
    expect(before.stations.find((s) => s.id === 'station-1')).toMatchObject({ reviewBacklog: 2, shift: { pass: 1, review: 2 } });
    expect(before.recent).toHaveLength(7);

    gw = await gw.restart();
    expect((await read(gw)).shift).toMatchObject(expected);
  });
});
