import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../gateway/src/gateway.js';
import type { Inspection } from '../../gateway/src/inspect/inspection.js';
import { captureLog } from '../helpers/plc-line.js';
import { silentLog, tempDir, testConfig } from '../helpers/test-config.js';

const tmp = tempDir('loupe-review-');
afterAll(() => tmp.cleanup());
let gateway: Gateway | null = null;
afterEach(async () => {
  await gateway?.stop();
  gateway = null;
});

/** Every part goes to review: an uncertain band covering all scores. */
async function reviewGateway(name: string, review = { timeoutMs: 60_000, safeVerdict: 'fail' as const }, log: Logger = silentLog) {
  const cfg = testConfig(join(tmp.dir, name), {
    stations: [{ id: 's1', trigger: { type: 'api' }, policy: { passBelow: 0, failAtOrAbove: 1, auditRate: 0 }, review }],
  });
  gateway = await startGateway(cfg, log);
  return gateway;
}

async function part(g: Gateway, partId: string): Promise<Inspection> {
  const i = await g.stations.get('s1')?.trigger({ via: 'api', partId });
  if (!i) throw new Error('no inspection');
  expect(i.state).toBe('awaiting-review');
  return i;
}

describe('review queue', () => {
  it('commits the decision, its audit row and its outbox message together', async () => {
    const g = await reviewGateway('a');
    const i = await part(g, 'R1');
    expect(g.review.list('s1').map((x) => x.id)).toEqual([i.id]);
    const { settlement, replay } = g.review.decide({ decisionId: 'd-1', inspectionId: i.id, verdict: 'fail', defectClass: 'scratch', note: ' burr ', operatorId: 'op7' });
    expect(replay).toBe(false);
    expect(settlement.inspection).toMatchObject({ state: 'reviewed', verdict: 'fail', defectClass: 'scratch', decidedBy: 'operator', modelVerdict: 'review' });
    expect(g.store.decisions.forInspection(i.id)).toMatchObject({ id: 'd-1', operatorId: 'op7', note: 'burr', decidedBy: 'operator' });
    const [msg] = g.store.outbox.peek(10);
    expect(msg).toMatchObject({ messageId: 'd-1', kind: 'correction', inspectionId: i.id });
    expect(msg?.payload).toMatchObject({ correctionId: 'd-1', partId: 'R1', operator: { id: 'op7', verdict: 'fail', defectClass: 'scratch' } });
    expect(g.review.list('s1')).toEqual([]);
  });

  it('treats a replayed decision id as the same decision, exactly once', async () => {
    const g = await reviewGateway('b');
    const i = await part(g, 'R2');
    const input = { decisionId: 'd-2', inspectionId: i.id, verdict: 'pass' as const, operatorId: 'op1' };
    g.review.decide(input);
    const again = g.review.decide(input);
    expect(again.replay).toBe(true);
    expect(again.settlement.inspection.verdict).toBe('pass');
    expect(g.store.outbox.backlog().count).toBe(1);
  });

  it('refuses a second decision on a part another operator already decided', async () => {
    const g = await reviewGateway('c');
    const i = await part(g, 'R3');
    g.review.decide({ decisionId: 'd-3', inspectionId: i.id, verdict: 'pass', operatorId: 'op1' });
    expect(() => g.review.decide({ decisionId: 'd-4', inspectionId: i.id, verdict: 'fail', defectClass: 'dent', operatorId: 'op2' })).toThrow(
      expect.objectContaining({ code: 'LOUPE_ERR_REVIEW_ALREADY_DECIDED', message: 'part R3 was already decided by op1' }),
    );
    expect(g.store.outbox.backlog().count).toBe(1);
  });

  it('refuses a defect class the model does not know, listing the valid ones', async () => {
    const g = await reviewGateway('d');
    const i = await part(g, 'R4');
    expect(() => g.review.decide({ decisionId: 'd-5', inspectionId: i.id, verdict: 'fail', defectClass: 'rust', operatorId: 'op1' })).toThrow(
      expect.objectContaining({ code: 'LOUPE_ERR_REVIEW_INVALID', message: expect.stringContaining('scratch, dent, crack, contamination, missing_hole, other') }),
    );
    expect(g.review.list('s1')).toHaveLength(1);
  });

  it('gives a part whose review times out the safe verdict and records who decided', async () => {
    const g = await reviewGateway('e', { timeoutMs: 1000, safeVerdict: 'fail' });
    const i = await part(g, 'R5');
    const settled = await new Promise<{ inspection: Inspection }>((resolve) => g.review.once('settled', resolve));
    expect(settled.inspection).toMatchObject({ id: i.id, state: 'timed-out', verdict: 'fail', decidedBy: 'timeout' });
    expect(g.store.decisions.forInspection(i.id)).toMatchObject({ decidedBy: 'timeout', operatorId: null, verdict: 'fail' });
    // A timeout is no human judgement: nothing goes out as training data.
    expect(g.store.outbox.backlog().count).toBe(0);
  });

  it('keeps a timed-out part waiting while the store refuses writes, says so once, and records it when the store is back', async () => {
    const { log, lines } = captureLog();
    const g = await reviewGateway('e2', { timeoutMs: 1000, safeVerdict: 'fail' }, log);
    const i = await part(g, 'R5b');
    // SQLite refuses every write from here, as on a file system remounted read-only.
    g.store.db.pragma('query_only = 1');
    // Past the deadline and several checks later.
    await new Promise((r) => setTimeout(r, 3000));
    expect(g.review.list('s1').map((x) => x.id)).toEqual([i.id]);
    expect(lines.filter((l) => l.level === 50 && l.inspection === i.id)).toHaveLength(1);
    g.store.db.pragma('query_only = 0');
    const settled = await new Promise<{ inspection: Inspection }>((resolve) => g.review.once('settled', resolve));
    expect(settled.inspection).toMatchObject({ id: i.id, state: 'timed-out', verdict: 'fail' });
    expect(g.review.list('s1')).toEqual([]);
  });

  it('restores parts still waiting after a restart', async () => {
    const dataDir = join(tmp.dir, 'f');
    const cfg = testConfig(dataDir, { stations: [{ id: 's1', trigger: { type: 'api' }, policy: { passBelow: 0, failAtOrAbove: 1, auditRate: 0 } }] });
    gateway = await startGateway(cfg, silentLog);
    const i = await part(gateway, 'R6');
    await gateway.stop();
    gateway = await startGateway(cfg, silentLog);
    expect(gateway.review.list('s1').map((x) => x.partId)).toEqual(['R6']);
    expect(gateway.review.deadlineOf(i.id)).toBe(i.triggeredAt.getTime() + 120_000);
  });
});
