import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import type { StationConfig } from '../config/sections/station.js';
import { errorMessage, isLoupeError, LoupeError } from '../errors.js';
import type { Inspection, Verdict } from '../inspect/inspection.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';

/** An operator's judgement of one part, as the HMI sends it. */
export interface DecisionInput {
  /** Made by the HMI per tap, so a replay after a lost connection is recognised. */
  decisionId: string;
  inspectionId: string;
  verdict: 'pass' | 'fail';
  /** Required for `fail`: one of the model's defect labels or `other`. */
  defectClass?: string | null;
  note?: string | null;
  operatorId: string;
}

export interface Decision {
  id: string;
  inspectionId: string;
  verdict: 'pass' | 'fail';
  defectClass: string | null;
  note: string | null;
  decidedBy: 'operator' | 'timeout';
  operatorId: string | null;
  decidedAt: Date;
}

export interface Settlement {
  inspection: Inspection;
  decision: Decision;
}

export interface ReviewEvents {
  added: [Inspection];
  /** A part left the queue: an operator decided it or its review timed out. */
  settled: [Settlement];
}

/** Builds the outbox message (training data) for an operator's decision; owned by uplink/. */
export type CorrectionBuilder = (inspection: Inspection, decision: Decision) => { messageId: string; payload: unknown };

interface Pending {
  inspection: Inspection;
  deadline: number;
}

const OTHER = 'other';

/**
 * Parts waiting for an operator. The queue lives in the store (state
 * `awaiting-review`), so it survives restarts; this class keeps it in memory
 * for the HMI, applies decisions atomically and enforces review timeouts.
 */
export class ReviewQueue extends EventEmitter<ReviewEvents> {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  /** A timeout could not be recorded at the last check (logged once until one succeeds). */
  private expireFailing = false;

  constructor(
    private readonly deps: {
      store: Store;
      stations: ReadonlyMap<string, { review: StationConfig['review']; defectLabels: () => readonly string[] }>;
      buildCorrection: CorrectionBuilder;
      metrics: Metrics;
      log: Logger;
      now?: () => number;
    },
  ) {
    super();
  }

  /** Reload parts that were waiting when the gateway stopped, and start the timeout clock. */
  start(checkEveryMs = 500): void {
    for (const i of this.deps.store.inspections.awaitingReview()) this.track(i);
    if (this.pending.size > 0) this.deps.log.info({ waiting: this.pending.size }, 'review queue restored from the store');
    this.timer = setInterval(() => this.expire(), checkEveryMs);
    this.timer.unref();
    this.updateGauge();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  add(i: Inspection): void {
    if (i.state !== 'awaiting-review' || this.pending.has(i.id)) return;
    this.track(i);
    this.updateGauge();
    this.emit('added', i);
  }

  /** Parts waiting, oldest first, optionally for one station. */
  list(station?: string): Inspection[] {
    return [...this.pending.values()].map((p) => p.inspection).filter((i) => station === undefined || i.station === station);
  }

  /** Milliseconds until part `id` times out, or null if it is not waiting. */
  deadlineOf(id: string): number | null {
    return this.pending.get(id)?.deadline ?? null;
  }

  /**
   * Apply an operator's decision: the inspection update, the audit row and the
   * outbox message commit in one transaction, or none does. Replaying the same
   * decision id returns the first result; another decision on a part already
   * settled is refused with LOUPE_ERR_REVIEW_ALREADY_DECIDED.
   */
  decide(input: DecisionInput): { settlement: Settlement; replay: boolean } {
    const { store } = this.deps;
    const replay = this.deps.store.decisions.byId(input.decisionId);
    if (replay) {
      if (replay.inspectionId !== input.inspectionId) throw new LoupeError('LOUPE_ERR_REVIEW_INVALID', `decision id ${input.decisionId} was used for another part`);
      const inspection = store.inspections.get(replay.inspectionId);
      if (!inspection) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no inspection ${replay.inspectionId}`);
      return { settlement: { inspection, decision: replay }, replay: true };
    }
    const inspection = store.inspections.get(input.inspectionId);
    if (!inspection) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no inspection ${input.inspectionId}`);
    const defectClass = this.validClass(inspection, input);
    const decision: Decision = {
      id: input.decisionId,
      inspectionId: inspection.id,
      verdict: input.verdict,
      defectClass,
      note: input.note?.trim() ? input.note.trim().slice(0, 500) : null,
      decidedBy: 'operator',
      operatorId: input.operatorId,
      decidedAt: new Date(this.now()),
    };
    const agreed = inspection.modelVerdict === 'review' ? null : inspection.modelVerdict === input.verdict;
    const reason = `operator ${input.operatorId}: ${input.verdict}${defectClass ? ` (${defectClass})` : ''}${agreed === false ? `, overriding the model's ${inspection.modelVerdict}` : ''}`;
    const settled = store.db.transaction(() => {
      const ok = store.inspections.settle(inspection.id, { verdict: input.verdict, defectClass, decidedBy: 'operator', reason, state: 'reviewed' });
      if (!ok) return false;
      this.deps.store.decisions.insert(decision);
      const msg = this.deps.buildCorrection({ ...inspection, verdict: input.verdict, defectClass, decidedBy: 'operator', reason, state: 'reviewed' }, decision);
      store.outbox.enqueue({ messageId: msg.messageId, kind: 'correction', station: inspection.station, inspectionId: inspection.id, payload: msg.payload });
      return true;
    })();
    if (!settled) {
      const by = this.deps.store.decisions.forInspection(inspection.id);
      throw new LoupeError('LOUPE_ERR_REVIEW_ALREADY_DECIDED', `part ${inspection.partId} was already decided${by ? ` by ${by.operatorId ?? 'the review timeout'}` : ''}`, {
        details: { inspectionId: inspection.id, decidedBy: by?.operatorId ?? by?.decidedBy ?? null },
      });
    }
    const outcome = inspection.modelVerdict === 'review' || agreed ? 'confirmed' : 'overridden';
    return { settlement: this.finish(inspection.id, decision, outcome), replay: false };
  }

  private validClass(inspection: Inspection, input: DecisionInput): string | null {
    if (input.verdict === 'pass') return null;
    const labels = this.deps.stations.get(inspection.station)?.defectLabels() ?? [];
    const cls = input.defectClass ?? OTHER;
    if (cls !== OTHER && !labels.includes(cls)) {
      throw new LoupeError('LOUPE_ERR_REVIEW_INVALID', `unknown defect class "${cls}", expected one of ${[...labels, OTHER].join(', ')}`);
    }
    return cls;
  }

  /** Time out overdue parts with their station's safe verdict (audit samples keep the model's). */
  expire(): void {
    const now = this.now();
    for (const p of [...this.pending.values()]) {
      if (p.deadline > now) continue;
      try {
        this.timeOut(p.inspection, now);
        this.expireFailing = false;
      } catch (err) {
        // The store refused (disk full, locked): the part stays waiting and the next check tries again; said once.
        if (!this.expireFailing) this.deps.log.error({ err: errorMessage(err), code: isLoupeError(err) ? err.code : 'LOUPE_ERR_STORE_WRITE', inspection: p.inspection.id }, `cannot record the review timeout of part ${p.inspection.partId}; retrying`);
        this.expireFailing = true;
      }
    }
  }

  private timeOut(i: Inspection, now: number): void {
    const safe = this.deps.stations.get(i.station)?.review.safeVerdict ?? 'fail';
    const verdict: Verdict = i.audit && i.modelVerdict !== 'review' && i.modelVerdict !== null ? i.modelVerdict : safe;
    const decision: Decision = {
      id: ulid(now),
      inspectionId: i.id,
      verdict: verdict === 'pass' ? 'pass' : 'fail',
      defectClass: verdict === 'fail' ? i.defectClass : null,
      note: null,
      decidedBy: 'timeout',
      operatorId: null,
      decidedAt: new Date(now),
    };
    const reason = i.audit ? 'audit sample not reviewed in time; the model verdict stands' : `review timed out; safe verdict ${verdict}`;
    const ok = this.deps.store.db.transaction(() => {
      const changed = this.deps.store.inspections.settle(i.id, { verdict, defectClass: decision.defectClass, decidedBy: 'timeout', reason, state: 'timed-out' });
      if (changed) this.deps.store.decisions.insert(decision);
      return changed;
    })();
    if (!ok) {
      this.pending.delete(i.id);
      return;
    }
    this.deps.log.warn({ partId: i.partId, inspection: i.id, verdict, station: i.station }, `part ${i.partId}: ${reason}`);
    this.finish(i.id, decision, 'timed-out');
  }

  private finish(id: string, decision: Decision, outcome: 'confirmed' | 'overridden' | 'timed-out'): Settlement {
    this.pending.delete(id);
    const inspection = this.deps.store.inspections.get(id);
    if (!inspection) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no inspection ${id}`);
    this.deps.metrics.reviews.inc({ station: inspection.station, outcome });
    this.updateGauge();
    const settlement = { inspection, decision };
    // The decision is committed: a consumer (PLC final verdict, live screens) that throws must not undo that for the others.
    for (const listener of this.rawListeners('settled')) {
      try {
        listener(settlement);
      } catch (err) {
        this.deps.log.error({ err, code: 'LOUPE_ERR_INTERNAL', inspection: id }, `a consumer of the decision on part ${inspection.partId} failed: ${errorMessage(err)}`);
      }
    }
    return settlement;
  }

  private track(i: Inspection): void {
    const timeoutMs = this.deps.stations.get(i.station)?.review.timeoutMs ?? 120_000;
    this.pending.set(i.id, { inspection: i, deadline: i.triggeredAt.getTime() + timeoutMs });
  }

  private updateGauge(): void {
    const counts = new Map<string, number>([...this.deps.stations.keys()].map((s) => [s, 0]));
    for (const p of this.pending.values()) counts.set(p.inspection.station, (counts.get(p.inspection.station) ?? 0) + 1);
    for (const [station, n] of counts) this.deps.metrics.reviewBacklog.set({ station }, n);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}
