import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { PlcClientConfig, PlcTagName } from '../config/sections/plc.js';
import { errorMessage, isLoupeError, type LoupeError } from '../errors.js';
import type { Inspection } from '../inspect/inspection.js';
import type { Station } from '../inspect/station.js';
import type { Metrics } from '../metrics.js';
import type { ReviewQueue, Settlement } from '../review/review-queue.js';
import { PlcErrorCode, plcErrorCode, ResultState, VerdictCode, type PlcErrorCodeValue, type ResultStateValue, type VerdictCodeValue } from './codes.js';
import { counterWidth, increment, steps, wentBack, type CounterWidth } from './counter.js';
import type { PlcConnection, TagValue } from './plc-connection.js';
import type { RecipeSwitcher } from './recipes.js';
import { SeqChannel } from './seq-channel.js';
import type { StationControl } from './station-control.js';

/** What one part's result tells the PLC. */
export interface PlcResult {
  partId: string;
  verdict: VerdictCodeValue;
  resultState: ResultStateValue;
  isPartial: boolean;
  errorCode: PlcErrorCodeValue;
  /** Trigger latched to verdict known. */
  processingMs: number;
  inspectionId: string | null;
  /** Why, in words, for the log. */
  reason: string;
  latchedAt: number;
  deadlineAt: number;
}

/** A held part's final verdict (operator or review timeout). */
export interface PlcFinal {
  partId: string;
  verdict: typeof VerdictCode.pass | typeof VerdictCode.fail;
  inspectionId: string;
  decidedBy: 'operator' | 'timeout';
}

export interface HandshakeEvents {
  /** A result reached the PLC (its ResultSeq is written). */
  result: [PlcResult & { seq: number }];
  /** A final verdict reached the PLC (its FinalSeq is written). */
  final: [PlcFinal & { seq: number }];
  /** Ready changed; `reason` says why it is 0. */
  ready: [ready: boolean, reason: string | null];
}

export interface HandshakeDeps {
  block: number;
  conn: PlcConnection;
  station: Station;
  review: ReviewQueue;
  cfg: PlcClientConfig;
  recipes: RecipeSwitcher | null;
  control: StationControl | null;
  metrics: Metrics;
  log: Logger;
}

interface Part {
  seq: number;
  partId: string;
  latchedAt: number;
  deadlineAt: number;
  outcome: PlcResult | null;
  timer: NodeJS.Timeout | null;
}

interface Held {
  partId: string;
  /** queued: waiting to be shown; shown: on the PLC's tags; acked: the PLC has it, a final may follow. */
  state: 'queued' | 'shown' | 'acked';
  final: PlcFinal | null;
}

const VERDICT_NAMES: Record<VerdictCodeValue, string> = { 0: 'none', 1: 'pass', 2: 'fail', 3: 'hold', 4: 'no-result' };
const UNKNOWN_WIDTH: CounterWidth = { modulus: 2 ** 32, signed: false };

/**
 * The handshake of one interface block with the PLC, for one station.
 *
 * Counters, not pulses: the PLC increments TriggerSeq, Loupe answers with
 * TriggerAck; results go out on ResultSeq (payload first, number last) and
 * come back on ResultAckSeq, final verdicts likewise on FinalSeq. Everything
 * that writes to the PLC runs in one lane, in order, so the PLC never sees a
 * sequence number before its payload.
 */
export class Handshake extends EventEmitter<HandshakeEvents> {
  private online = false;
  private synced = false;
  private enable = false;
  private triggerSeen: number | null = null;
  private missed = 0;
  private overrun = false;
  private heartbeat = 0;
  private heartbeatWriting = false;
  private plcBeat: number | null = null;
  private plcBeatAt = 0;
  private stale = false;
  private readyTarget: boolean | null = null;
  private readyReason: string | null = 'not connected';
  private busyTarget: boolean | null = null;
  private resultAck = 0;
  private finalAck = 0;
  private fault: LoupeError | null = null;
  private stopping = false;
  /** Stopped: timers may no longer be armed. */
  private closed = false;
  private readonly parts: Part[] = [];
  private readonly results = new SeqChannel<PlcResult>(1, UNKNOWN_WIDTH);
  private readonly finals = new SeqChannel<PlcFinal>(1, UNKNOWN_WIDTH);
  private readonly held = new Map<string, Held>();
  private lane: Promise<void> = Promise.resolve();
  private triggerQueued = false;
  private pumpQueued = false;
  private timer: NodeJS.Timeout | null = null;
  private ackPoll: NodeJS.Timeout | null = null;
  private readonly noResultLogs = { count: 0 };
  private readonly detach: (() => void)[] = [];
  private readonly log: Logger;

  constructor(private readonly deps: HandshakeDeps) {
    super();
    this.log = deps.log;
    this.results = new SeqChannel<PlcResult>(deps.cfg.resultQueueDepth, UNKNOWN_WIDTH);
    this.finals = new SeqChannel<PlcFinal>(deps.cfg.finalQueueDepth, UNKNOWN_WIDTH);
  }

  get station(): Station {
    return this.deps.station;
  }

  /** Ready as last written (or about to be), and why not. */
  get ready(): { ready: boolean; reason: string | null } {
    return { ready: this.readyTarget === true, reason: this.readyReason };
  }

  status(): { ready: boolean; reason: string | null; inFlight: number; unacknowledged: number; finalsPending: number; missed: number; overrun: boolean } {
    return {
      ready: this.readyTarget === true,
      reason: this.readyReason,
      inFlight: this.parts.length,
      unacknowledged: this.results.size,
      finalsPending: this.finals.size,
      missed: this.missed,
      overrun: this.overrun,
    };
  }

  start(): void {
    const { conn, review, control, block } = this.deps;
    const on = <A extends unknown[]>(e: { on(n: string, f: (...a: A) => void): unknown; off(n: string, f: (...a: A) => void): unknown }, name: string, f: (...a: A) => void) => {
      e.on(name, f);
      this.detach.push(() => e.off(name, f));
    };
    on(conn, 'up', () => this.onUp());
    on(conn, 'down', () => this.onDown());
    on(conn, 'change', (b: number, tag: PlcTagName, value: TagValue) => {
      if (b === block) this.onInput(tag, value);
    });
    on(conn, 'blockFault', (b: number, err: LoupeError) => {
      if (b === block) this.fault = err;
    });
    on(review, 'settled', (s: Settlement) => this.onSettled(s));
    if (control) on(control, 'changed', () => this.updateReady());
    // Parts held before a restart still get their final verdict (the PLC ignores ids it no longer holds).
    for (const i of review.list(this.station.id)) {
      if (i.trigger === 'plc' && i.modelVerdict === 'review' && !i.audit) this.held.set(i.id, { partId: i.partId, state: 'acked', final: null });
    }
    this.timer = setInterval(() => this.tick(), this.deps.cfg.heartbeatMs);
    this.timer.unref();
    if (conn.isUp) this.onUp();
  }

  /** Drop Ready, give parts in flight up to `graceMs` to reach the PLC, then let go. */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.updateReady();
    // Parts already latched still get their result; new triggers get no-result (Ready is 0).
    const until = performance.now() + graceMs;
    while (performance.now() < until && this.online && (this.parts.length > 0 || this.results.size > 0)) await sleep(20);
    if (this.online) this.enqueue(() => this.write({ Ready: false, Busy: false }));
    await Promise.race([this.lane, sleep(this.deps.cfg.requestTimeoutMs)]);
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.ackPoll) clearTimeout(this.ackPoll);
    for (const d of this.detach.splice(0)) d();
    for (const p of this.parts.splice(0)) if (p.timer) clearTimeout(p.timer);
    const dropped = this.results.drain().length;
    if (dropped > 0) this.log.warn({ dropped }, `${dropped} results never reached the PLC before stopping`);
  }

  // ---- connection ----

  private onUp(): void {
    this.online = true;
    this.synced = false;
    this.enqueue(() => this.sync());
  }

  private onDown(): void {
    this.online = false;
    this.synced = false;
    this.readyTarget = null;
    this.busyTarget = null;
    this.setReadyReason('PLC link down');
  }

  /**
   * After every (re)connect: Ready = 0 first, then read back every counter on
   * both sides and carry on from them, so nothing is counted twice or lost.
   */
  private async sync(): Promise<void> {
    if (!this.online) return;
    const { conn, block } = this.deps;
    if (!conn.tags(block)) {
      this.setReadyReason(this.fault?.message ?? 'interface block not usable');
      return;
    }
    this.fault = null;
    await this.write({ Ready: false });
    this.readyTarget = false;
    const v = await conn.read(block, ['Enable', 'TriggerSeq', 'ResultAckSeq', 'FinalAckSeq', 'PlcHeartbeat', 'RecipeId', 'TriggerAck', 'ResultSeq', 'FinalSeq', 'MissedCount', 'LoupeHeartbeat']);
    const num = (t: PlcTagName) => Number(v[t as keyof typeof v] ?? 0);
    const tw = this.width('TriggerSeq');
    const first = this.triggerSeen === null;
    if (first) {
      // Carry on from the PLC's counters (Loupe restarted; the PLC did not).
      this.missed = num('MissedCount');
      this.heartbeat = num('LoupeHeartbeat');
      const pending = steps(num('TriggerAck'), num('TriggerSeq'), tw);
      if (pending > 0 && !wentBack(pending, tw)) {
        this.addMissed(pending);
        this.log.warn({ parts: pending }, `${pending} parts were triggered before Loupe was connected; counted in MissedCount`);
      }
    } else {
      const n = steps(this.triggerSeen ?? 0, num('TriggerSeq'), tw);
      if (wentBack(n, tw)) {
        this.log.warn({ was: this.triggerSeen, now: num('TriggerSeq') }, 'TriggerSeq went back while the link was down (PLC restarted or reset): following it');
      } else if (n > 0) {
        this.addMissed(n);
        this.log.warn({ parts: n }, `${n} parts triggered while the link was down were not inspected; counted in MissedCount`);
      }
    }
    this.triggerSeen = num('TriggerSeq');
    this.enable = v.Enable === true;
    this.plcBeat = num('PlcHeartbeat');
    this.plcBeatAt = performance.now();
    this.stale = false;
    this.resultAck = num('ResultAckSeq');
    this.finalAck = num('FinalAckSeq');
    const r = this.results.resync(num('ResultSeq'), this.resultAck, this.width('ResultSeq'));
    if (r.acknowledged !== undefined) this.onResultAcked(r.acknowledged);
    this.finals.resync(num('FinalSeq'), this.finalAck, this.width('FinalSeq'));
    this.busyTarget = this.parts.length > 0;
    await this.write({ TriggerAck: this.triggerSeen, MissedCount: this.missed, Overrun: this.overrun, Busy: this.busyTarget, LoupeHeartbeat: this.heartbeat });
    this.synced = true;
    const recipes = this.deps.recipes;
    if (recipes?.enabled && 'RecipeId' in v) void recipes.select(String(v.RecipeId));
    this.log.info(
      { triggerSeq: this.triggerSeen, resultSeq: this.results.lastSeq, finalSeq: this.finals.lastSeq, missed: this.missed, enable: this.enable },
      `handshake with the PLC in step (TriggerSeq ${this.triggerSeen}, ResultSeq ${this.results.lastSeq}, FinalSeq ${this.finals.lastSeq})`,
    );
    this.updateReady();
    this.queuePump();
    // Inputs that changed while we were reading are caught by one more read.
    this.enqueue(() => this.refresh());
  }

  /** Read the inputs that drive the handshake and act on any change (notifications during a sync are not acted on). */
  private async refresh(): Promise<void> {
    if (!this.synced) return;
    const v = await this.deps.conn.read(this.deps.block, ['Enable', 'ResultAckSeq', 'FinalAckSeq']);
    this.onInput('Enable', v.Enable);
    this.onInput('ResultAckSeq', v.ResultAckSeq);
    this.onInput('FinalAckSeq', v.FinalAckSeq);
    this.queueTrigger();
  }

  // ---- inputs ----

  private onInput(tag: PlcTagName, value: TagValue): void {
    if (!this.synced) return; // sync reads everything afresh
    switch (tag) {
      case 'Enable': {
        const rising = !this.enable && value === true;
        this.enable = value === true;
        if (rising && this.overrun) {
          this.overrun = false;
          this.enqueue(() => this.write({ Overrun: false }));
          this.log.info('Overrun cleared by the PLC (Enable raised again)');
        }
        this.updateReady();
        return;
      }
      case 'TriggerSeq':
        this.queueTrigger();
        return;
      case 'ResultAckSeq': {
        this.resultAck = Number(value);
        const freed = this.results.acknowledge(this.resultAck);
        if (freed !== undefined) {
          this.onResultAcked(freed);
          this.queuePump();
        }
        return;
      }
      case 'FinalAckSeq': {
        this.finalAck = Number(value);
        if (this.finals.acknowledge(this.finalAck) !== undefined) this.queuePump();
        return;
      }
      case 'PlcHeartbeat':
        if (value !== this.plcBeat) {
          this.plcBeat = Number(value);
          this.plcBeatAt = performance.now();
          if (this.stale) {
            this.stale = false;
            this.log.info('PlcHeartbeat is changing again');
            this.updateReady();
          }
        }
        return;
      case 'RecipeId':
        void this.deps.recipes?.select(String(value));
        return;
      default:
        return;
    }
  }

  private queueTrigger(): void {
    if (this.triggerQueued) return;
    this.triggerQueued = true;
    this.enqueue(async () => {
      this.triggerQueued = false;
      await this.latch();
    });
  }

  /** Read TriggerSeq and PartId together (one Read), latch the part, acknowledge. */
  private async latch(): Promise<void> {
    if (!this.synced) return;
    const { conn, block, station } = this.deps;
    const v = await conn.read(block, ['TriggerSeq', 'PartId']);
    const seq = Number(v.TriggerSeq);
    const partId = String(v.PartId ?? '').replace(/\0+$/, '');
    const tw = this.width('TriggerSeq');
    const n = steps(this.triggerSeen ?? seq, seq, tw);
    if (n === 0) return;
    if (wentBack(n, tw)) {
      this.log.warn({ was: this.triggerSeen, now: seq }, 'TriggerSeq went back (PLC restarted or reset): following it without inspecting');
      this.triggerSeen = seq;
      await this.write({ TriggerAck: seq });
      return;
    }
    const extra: Partial<Record<PlcTagName, TagValue>> = {};
    if (n > 1) {
      this.addMissed(n - 1);
      extra.MissedCount = this.missed;
      this.log.warn({ skipped: n - 1, triggerSeq: seq }, `TriggerSeq jumped by ${n}: ${n - 1} part(s) missed (the PLC triggered faster than Loupe acknowledged)`);
    }
    this.triggerSeen = seq;
    const now = performance.now();
    const part: Part = { seq, partId, latchedAt: now, deadlineAt: now + station.cfg.deadlineMs, outcome: null, timer: null };
    this.parts.push(part);
    const notReady = this.notReady();
    if (notReady) {
      this.settle(part, this.noResult(part, notReady.code, `triggered while not ready: ${notReady.reason}`, ResultState.aborted));
    } else {
      part.timer = setTimeout(() => this.settle(part, this.noResult(part, PlcErrorCode.deadline, `no verdict within deadlineMs ${station.cfg.deadlineMs}`, ResultState.aborted)), station.cfg.deadlineMs);
      // TriggerAck means "frame taken, the part may move on": written when the camera has the
      // frame, or when the trigger ends without one (refused, failed), whichever comes first.
      let acked = false;
      const ack = () => {
        if (acked) return;
        acked = true;
        this.enqueue(() => this.write({ TriggerAck: seq }));
      };
      station.trigger({ partId: partId === '' ? undefined : partId, via: 'plc', onGrabbed: ack }).then(
        (i) => {
          ack();
          this.settle(part, this.outcomeOf(part, i));
        },
        (err: unknown) => {
          ack();
          this.settle(part, this.noResult(part, plcErrorCode(isLoupeError(err) ? err.code : null), errorMessage(err), ResultState.failed));
        },
      );
      if (this.parts.length > 0 && this.busyTarget !== true) {
        this.busyTarget = true;
        extra.Busy = true;
      }
      if (Object.keys(extra).length > 0) await this.write(extra);
      return;
    }
    if (this.parts.length > 0 && this.busyTarget !== true) {
      this.busyTarget = true;
      extra.Busy = true;
    }
    await this.write({ TriggerAck: seq, ...extra });
  }

  // ---- results ----

  private outcomeOf(part: Part, i: Inspection): PlcResult {
    const processingMs = performance.now() - part.latchedAt;
    const base = { partId: part.partId, processingMs, inspectionId: i.id, latchedAt: part.latchedAt, deadlineAt: part.deadlineAt, reason: i.reason };
    if (i.state === 'error' || i.modelVerdict === null) {
      return { ...base, verdict: VerdictCode.noResult, resultState: ResultState.failed, isPartial: false, errorCode: plcErrorCode(i.errorCode) };
    }
    if (i.modelVerdict === 'review') {
      return { ...base, verdict: VerdictCode.hold, resultState: ResultState.processing, isPartial: true, errorCode: PlcErrorCode.none };
    }
    // An audit sample keeps its confident verdict for the PLC; the operator's check is for escape statistics only.
    return { ...base, verdict: i.modelVerdict === 'pass' ? VerdictCode.pass : VerdictCode.fail, resultState: ResultState.completed, isPartial: false, errorCode: PlcErrorCode.none };
  }

  private noResult(part: Part, errorCode: PlcErrorCodeValue, reason: string, resultState: ResultStateValue, inspectionId: string | null = null): PlcResult {
    return {
      partId: part.partId,
      verdict: VerdictCode.noResult,
      resultState,
      isPartial: false,
      errorCode,
      processingMs: performance.now() - part.latchedAt,
      inspectionId,
      reason,
      latchedAt: part.latchedAt,
      deadlineAt: part.deadlineAt,
    };
  }

  /** A part's outcome is known (verdict, error or deadline): queue it once, in trigger order. */
  private settle(part: Part, outcome: PlcResult): void {
    if (part.outcome) {
      if (outcome.inspectionId) this.log.debug({ partId: part.partId, inspection: outcome.inspectionId }, `part ${part.partId}: verdict came after the PLC got no-result`);
      return;
    }
    if (part.timer) clearTimeout(part.timer);
    part.outcome = outcome;
    while (this.parts[0]?.outcome) {
      const p = this.parts.shift() as Part;
      this.offerResult(p.outcome as PlcResult);
    }
    if (this.parts.length === 0 && this.busyTarget !== false && this.online) {
      this.busyTarget = false;
      this.enqueue(() => this.write({ Busy: false }));
    }
  }

  private offerResult(r: PlcResult): void {
    if (!this.results.offer(r)) {
      this.deps.metrics.plcOverruns.inc({ station: this.station.id, channel: 'result' });
      this.deps.metrics.plcResults.inc({ station: this.station.id, verdict: 'overrun' });
      this.setOverrun(`part ${r.partId} gets no result: ${this.deps.cfg.resultQueueDepth} results wait for ResultAckSeq (plc.client.resultQueueDepth)`);
      return;
    }
    if (r.verdict === VerdictCode.hold && r.inspectionId) this.held.set(r.inspectionId, { partId: r.partId, state: 'queued', final: null });
    this.queuePump();
    this.armAckPoll();
  }

  private onResultAcked(r: PlcResult | null): void {
    if (!r || r.verdict !== VerdictCode.hold || !r.inspectionId) return;
    const h = this.held.get(r.inspectionId);
    if (!h) return;
    h.state = 'acked';
    if (h.final) {
      this.held.delete(r.inspectionId);
      this.offerFinal(h.final);
    }
  }

  private onSettled({ inspection, decision }: Settlement): void {
    if (inspection.station !== this.station.id) return;
    const h = this.held.get(inspection.id);
    if (!h) return;
    const final: PlcFinal = { partId: h.partId, verdict: decision.verdict === 'pass' ? VerdictCode.pass : VerdictCode.fail, inspectionId: inspection.id, decidedBy: decision.decidedBy };
    if (h.state === 'acked') {
      this.held.delete(inspection.id);
      this.offerFinal(final);
    } else {
      // The final verdict never overtakes its hold: it waits until the PLC acknowledged the hold.
      h.final = final;
    }
  }

  private offerFinal(f: PlcFinal): void {
    if (!this.finals.offer(f)) {
      this.deps.metrics.plcOverruns.inc({ station: this.station.id, channel: 'final' });
      this.setOverrun(`the final verdict of part ${f.partId} is dropped: ${this.deps.cfg.finalQueueDepth} final verdicts wait for FinalAckSeq (plc.client.finalQueueDepth)`);
      return;
    }
    this.queuePump();
  }

  private queuePump(): void {
    if (this.pumpQueued || !this.online) return;
    this.pumpQueued = true;
    this.enqueue(async () => {
      this.pumpQueued = false;
      await this.pump();
    });
  }

  /** Show the next result and the next final verdict, each payload first and its sequence number last. */
  private async pump(): Promise<void> {
    if (!this.synced) return;
    const r = this.results.next();
    if (r) {
      let item = r.item;
      if (item.verdict !== VerdictCode.noResult && performance.now() > item.deadlineAt) {
        // Never a pass (nor a late fail or hold) after the PLC's deadline: the part has moved on.
        item = { ...item, verdict: VerdictCode.noResult, resultState: ResultState.aborted, isPartial: false, errorCode: PlcErrorCode.deadline, reason: `verdict ready but not delivered before deadlineMs ${this.station.cfg.deadlineMs}` };
        this.results.replaceShown(item);
        if (r.item.inspectionId) this.held.delete(r.item.inspectionId);
      }
      await this.write({
        ResultPartId: item.partId,
        Verdict: item.verdict,
        ResultState: item.resultState,
        IsPartial: item.isPartial,
        ProcessingMs: Math.round(item.processingMs * 10) / 10,
        ErrorCode: item.errorCode,
      });
      await this.write({ ResultSeq: r.seq });
      this.results.written(r.seq);
      const h = item.inspectionId ? this.held.get(item.inspectionId) : undefined;
      if (h && h.state === 'queued') h.state = 'shown';
      this.recordResult(item, r.seq);
      // The acknowledgement may have overtaken our own write's answer.
      const freed = this.results.acknowledge(this.resultAck);
      if (freed !== undefined) {
        this.onResultAcked(freed);
        this.queuePump();
      }
    }
    const f = this.finals.next();
    if (f) {
      await this.write({ FinalPartId: f.item.partId, FinalVerdict: f.item.verdict });
      await this.write({ FinalSeq: f.seq });
      this.finals.written(f.seq);
      this.deps.metrics.plcResults.inc({ station: this.station.id, verdict: `final-${VERDICT_NAMES[f.item.verdict]}` });
      this.log.debug({ partId: f.item.partId, verdict: VERDICT_NAMES[f.item.verdict], finalSeq: f.seq, decidedBy: f.item.decidedBy }, `part ${f.item.partId}: final ${VERDICT_NAMES[f.item.verdict]} sent to the PLC`);
      this.emit('final', { ...f.item, seq: f.seq });
      if (this.finals.acknowledge(this.finalAck) !== undefined) this.queuePump();
    }
    this.armAckPoll();
  }

  /**
   * The PLC's acknowledgement reaches Loupe only at its next sampling and
   * publishing (often 50 to 200 ms): with results queued behind it, that
   * caps the line at one result per acknowledgement round trip. Reading the
   * acknowledgement directly, only while something waits, lifts the cap.
   */
  private armAckPoll(): void {
    const ms = this.deps.cfg.ackPollMs;
    if (ms === 0 || this.ackPoll || !this.synced || this.closed) return;
    if (this.results.queued === 0 && this.finals.queued === 0) return;
    this.ackPoll = setTimeout(() => {
      this.ackPoll = null;
      this.enqueue(async () => {
        if (!this.synced || (this.results.queued === 0 && this.finals.queued === 0)) return;
        const v = await this.deps.conn.read(this.deps.block, ['ResultAckSeq', 'FinalAckSeq']);
        this.onInput('ResultAckSeq', v.ResultAckSeq);
        this.onInput('FinalAckSeq', v.FinalAckSeq);
        this.armAckPoll();
      });
    }, ms);
  }

  private recordResult(item: PlcResult, seq: number): void {
    const station = this.station.id;
    const name = VERDICT_NAMES[item.verdict];
    this.deps.metrics.plcResults.inc({ station, verdict: name });
    this.deps.metrics.plcResultSeconds.observe({ station }, (performance.now() - item.latchedAt) / 1000);
    const line = { partId: item.partId, verdict: name, resultSeq: seq, errorCode: item.errorCode, ms: Math.round(item.processingMs) };
    if (item.verdict === VerdictCode.noResult) {
      this.noResultLogs.count++;
      if (this.noResultLogs.count === 1 || this.noResultLogs.count % 100 === 0) {
        this.log.warn({ ...line, noResults: this.noResultLogs.count }, `part ${item.partId}: no result sent to the PLC (${item.reason})`);
      }
    } else {
      this.log.debug(line, `part ${item.partId}: ${name} sent to the PLC`);
    }
    this.emit('result', { ...item, seq });
  }

  // ---- Ready, Overrun, MissedCount, heartbeats ----

  private notReady(): { code: PlcErrorCodeValue; reason: string } | null {
    const { station, control, recipes } = this.deps;
    if (!this.online || !this.synced) return { code: PlcErrorCode.notReady, reason: 'PLC link down' };
    if (this.fault) return { code: PlcErrorCode.internal, reason: this.fault.message };
    if (this.stopping) return { code: PlcErrorCode.stationStopped, reason: 'Loupe is stopping' };
    if (!this.enable) return { code: PlcErrorCode.notReady, reason: 'Enable is 0' };
    if (this.stale) return { code: PlcErrorCode.notReady, reason: `PlcHeartbeat unchanged for more than ${this.deps.cfg.plcHeartbeatTimeoutMs} ms` };
    if (control?.halted) return { code: PlcErrorCode.notReady, reason: 'halted by an OPC UA client (call Reset)' };
    if (!station.status().running) return { code: PlcErrorCode.stationStopped, reason: `station ${station.id} is not running` };
    if (recipes && recipes.state !== 'ok') {
      const code = recipes.state === 'unknown' ? PlcErrorCode.recipeUnknown : recipes.state === 'failed' ? PlcErrorCode.recipeLoad : PlcErrorCode.notReady;
      return { code, reason: recipes.problem ?? `recipe ${recipes.state}` };
    }
    return null;
  }

  /** Recompute Ready and write it when it changes. */
  updateReady(): void {
    const nr = this.notReady();
    this.setReadyReason(nr?.reason ?? null);
    if (!this.online || !this.synced) return;
    const ready = nr === null;
    if (ready === this.readyTarget) return;
    this.readyTarget = ready;
    this.emit('ready', ready, nr?.reason ?? null);
    this.enqueue(() => this.write({ Ready: ready }));
  }

  private setReadyReason(reason: string | null): void {
    if (reason === this.readyReason) return;
    if (reason === null) this.log.info(`Ready: the PLC may send parts to station ${this.station.id}`);
    else this.log.warn({ reason }, `not ready: ${reason}`);
    this.readyReason = reason;
  }

  private setOverrun(why: string): void {
    if (!this.overrun) {
      this.overrun = true;
      this.log.error({ code: 'LOUPE_ERR_PLC_OVERRUN' }, `Overrun: ${why}; the PLC clears Overrun by dropping and raising Enable`);
      if (this.online) this.enqueue(() => this.write({ Overrun: true }));
    } else {
      this.log.debug(why);
    }
  }

  private addMissed(n: number): void {
    this.missed = increment(this.missed, this.width('MissedCount'), n);
    this.deps.metrics.plcMissedTriggers.inc({ station: this.station.id }, n);
  }

  private tick(): void {
    if (!this.online || !this.synced) return;
    if (!this.heartbeatWriting) {
      this.heartbeat = increment(this.heartbeat, this.width('LoupeHeartbeat'));
      this.heartbeatWriting = true;
      this.write({ LoupeHeartbeat: this.heartbeat })
        .catch((err: unknown) => this.onLaneError(err))
        .finally(() => (this.heartbeatWriting = false));
    }
    this.stale = performance.now() - this.plcBeatAt > this.deps.cfg.plcHeartbeatTimeoutMs;
    // Conditions without an event of their own (station stopped, heartbeat gone quiet) are caught here; Ready is written only on change.
    this.updateReady();
  }

  // ---- plumbing ----

  private width(tag: PlcTagName): CounterWidth {
    const b = this.deps.conn.tags(this.deps.block)?.get(tag);
    return b ? b.width : counterWidth(0);
  }

  private write(values: Partial<Record<PlcTagName, TagValue>>): Promise<void> {
    return this.deps.conn.write(this.deps.block, values);
  }

  private enqueue(task: () => Promise<void>): void {
    this.lane = this.lane.then(task).catch((err: unknown) => this.onLaneError(err));
  }

  private lastLaneError: string | null = null;

  private onLaneError(err: unknown): void {
    if (!this.deps.conn.isUp) return; // the link dropped mid-task; sync redoes it
    const e = isLoupeError(err) ? err : null;
    const text = `${e?.code ?? 'error'}: ${errorMessage(err)}`;
    if (e && (e.code === 'LOUPE_ERR_PLC_TAG_TYPE' || e.code === 'LOUPE_ERR_PLC_TAG_ACCESS')) {
      this.fault = e;
      this.updateReady();
    }
    if (text !== this.lastLaneError) this.log.error({ code: e?.code, ...e?.details }, `PLC handshake: ${errorMessage(err)}`);
    this.lastLaneError = text;
    // A failed write leaves the PLC unsure of our state: read everything back and carry on from there.
    if (this.synced && !this.fault) {
      this.synced = false;
      this.enqueue(() => this.sync());
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
