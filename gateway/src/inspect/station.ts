import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import type { Frame } from '../camera/frame.js';
import type { FrameSource } from '../camera/frame-source.js';
import { sniffImageType } from '../camera/image-type.js';
import type { StationConfig } from '../config/sections/station.js';
import { errorMessage, isLoupeError, LoupeError, type ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { Detector } from '../vision/detector.js';
import type { Inspection } from './inspection.js';
import { decide, type Thresholds } from './policy.js';

const SUMMARY_EVERY_MS = 60_000;

/** Where a part's frame went in the image store (null when it could not be kept), and its size. */
interface SavedImage {
  ref: string | null;
  bytes: number;
}

export interface StationEvents {
  /** A part's first verdict is committed to the store (pass, fail, review, or error). */
  inspected: [Inspection];
}

/**
 * Called once per announced part with its frame, after every `inspected`
 * listener ran (shadow mode). It must return at once and never throw; what it
 * does with the part can no longer change the verdict or its order.
 */
export type ShadowTap = (inspection: Readonly<Inspection>, frame: Buffer) => void;

export interface TriggerRequest {
  /** Part id as the line knows it; generated when absent. */
  partId?: string;
  via: Inspection['trigger'];
  /**
   * Called once the camera has the frame (or failed to get it): the part may
   * leave the camera's view. The PLC handshake acknowledges the trigger here.
   */
  onGrabbed?: () => void;
}

export interface StationStatus {
  id: string;
  name: string;
  running: boolean;
  camera: ReturnType<FrameSource['status']>;
  model: { id: string; version: string; provider: string; sha256: string };
  inFlight: number;
  queued: number;
  parts: number;
  missedTriggers: number;
  /** Parts per second over the last minute. */
  partsPerSecond: number;
  lastPartAt: string | null;
}

interface Job {
  req: TriggerRequest;
  frame?: Frame;
  triggeredAt: Date;
  resolve: (i: Inspection) => void;
  reject: (e: unknown) => void;
}

/**
 * One camera + one model + one policy. Takes triggers, runs each part through
 * grab -> detect -> decide -> store, and announces results in trigger order
 * (the PLC reads them as a sequence) while up to `maxInFlight` parts overlap.
 */
export class Station extends EventEmitter<StationEvents> {
  private inFlight = 0;
  private readonly queue: Job[] = [];
  /** Resolves when the previous part has been announced: keeps announcements in order. */
  private lastAnnounced: Promise<void> = Promise.resolve();
  private running = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private parts = 0;
  private missed = 0;
  private readonly recent: number[] = [];
  private lastPartAt: Date | null = null;
  private imageWarned = false;
  /** Consecutive parts that could not be recorded; reset by the next recorded part. */
  private failures = 0;
  private summary: NodeJS.Timeout | null = null;
  private readonly window = { pass: 0, fail: 0, review: 0, error: 0, totalMs: [] as number[] };
  private shadowTap: ShadowTap | null = null;
  /** Frames of recorded parts awaiting their announcement, kept only while a shadow tap is set. */
  private readonly shadowFrames = new WeakMap<Inspection, Buffer>();

  constructor(
    readonly cfg: StationConfig,
    private deps: {
      source: FrameSource;
      detector: Detector;
      thresholds: Thresholds;
      store: Store;
      metrics: Metrics;
      log: Logger;
      /** Uniform 0..1 draws for audit sampling. */
      random?: () => number;
    },
  ) {
    super();
  }

  get id(): string {
    return this.cfg.id;
  }

  get detector(): Detector {
    return this.deps.detector;
  }

  get thresholds(): Thresholds {
    return this.deps.thresholds;
  }

  /**
   * Use another model and thresholds from the next part on (recipe change,
   * promotion, rollback). Parts in flight finish with the model they started with.
   * Returns the previous detector so the caller can release it once idle.
   */
  switchModel(detector: Detector, thresholds: Thresholds): Detector {
    const previous = this.deps.detector;
    this.deps = { ...this.deps, detector, thresholds };
    this.deps.log.info({ model: detector.manifest.id, version: detector.manifest.version, provider: detector.provider }, `station ${this.id} switched to model ${detector.manifest.id}@${detector.manifest.version}`);
    return previous;
  }

  /**
   * Hand each announced part and its frame to `tap` from the next part on
   * (null removes it). Without a tap the pipeline keeps no frames.
   */
  setShadowTap(tap: ShadowTap | null): void {
    this.shadowTap = tap;
  }

  /** True while no part is in flight or queued: a shadow may use the CPU without holding up a part. */
  get idle(): boolean {
    return this.inFlight === 0 && this.queue.length === 0;
  }

  /**
   * Resolves once every part started so far has been announced. After
   * `switchModel`, the previous detector is unused when this resolves.
   */
  partsStartedSoFar(): Promise<void> {
    return this.lastAnnounced;
  }

  async start(): Promise<void> {
    await this.deps.source.open();
    this.running = true;
    const t = this.cfg.trigger;
    this.summary = setInterval(() => this.logSummary(), SUMMARY_EVERY_MS);
    this.summary.unref();
    if (t.type === 'interval') this.loop = this.runInterval(t.intervalMs);
    else if (t.type === 'file') this.loop = this.runFiles();
    this.deps.log.info({ camera: this.deps.source.type, trigger: t.type }, `station ${this.id} started`);
  }

  /**
   * Trigger one part now (API, PLC, interval). Resolves with the committed
   * inspection; rejects with LOUPE_ERR_STATION_BUSY when the queue is full.
   */
  trigger(req: TriggerRequest): Promise<Inspection> {
    if (!this.running) return Promise.reject(new LoupeError('LOUPE_ERR_STATION_STOPPED', `station ${this.id} is not running`));
    return new Promise((resolve, reject) => {
      const job: Job = { req, triggeredAt: new Date(), resolve, reject };
      if (this.inFlight < this.cfg.maxInFlight) return this.run(job);
      if (this.queue.length < this.cfg.maxQueued) return void this.queue.push(job);
      this.missed++;
      this.deps.metrics.missedTriggers.inc({ station: this.id });
      reject(new LoupeError('LOUPE_ERR_STATION_BUSY', `station ${this.id} is busy: ${this.inFlight} parts in flight, ${this.queue.length} queued`));
    });
  }

  /** Stop taking triggers, let parts in flight finish (up to `graceMs`), close the camera. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    if (this.summary) clearInterval(this.summary);
    for (const job of this.queue.splice(0)) job.reject(new LoupeError('LOUPE_ERR_STATION_STOPPED', `station ${this.id} stopped`));
    await Promise.race([this.loop, this.drained(), sleep(graceMs)]);
    await Promise.race([this.drained(), sleep(graceMs)]);
    await this.deps.source.close();
    this.deps.log.info({ parts: this.parts }, `station ${this.id} stopped`);
  }

  status(): StationStatus {
    const now = Date.now();
    while (this.recent.length > 0 && (this.recent[0] ?? 0) < now - 60_000) this.recent.shift();
    const m = this.deps.detector;
    return {
      id: this.id,
      name: this.cfg.name ?? this.id,
      running: this.running,
      camera: this.deps.source.status(),
      model: { id: m.manifest.id, version: m.manifest.version, provider: m.provider, sha256: m.pkg.sha256 },
      inFlight: this.inFlight,
      queued: this.queue.length,
      parts: this.parts,
      missedTriggers: this.missed,
      partsPerSecond: this.recent.length / Math.min(60, Math.max(1, (now - (this.recent[0] ?? now)) / 1000)),
      lastPartAt: this.lastPartAt?.toISOString() ?? null,
    };
  }

  /** One line a minute per station: what an engineer tailing the log wants to know. */
  private logSummary(): void {
    const w = this.window;
    const n = w.pass + w.fail + w.review + w.error;
    if (n === 0) return;
    const sorted = w.totalMs.sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)] ?? 0;
    this.deps.log.info(
      { parts: n, pass: w.pass, fail: w.fail, review: w.review, error: w.error, p50Ms: Math.round(p50), missed: this.missed },
      `station ${this.id}: ${n} parts in the last minute: ${w.pass} pass, ${w.fail} fail, ${w.review} review, ${w.error} no result; p50 ${Math.round(p50)} ms`,
    );
    Object.assign(w, { pass: 0, fail: 0, review: 0, error: 0, totalMs: [] });
  }

  private async drained(): Promise<void> {
    while (this.inFlight > 0) await sleep(10);
    await this.lastAnnounced;
  }

  private async runInterval(intervalMs: number): Promise<void> {
    // Free-running line: parts arrive on the clock whether or not we are ready, like a conveyor.
    let next = performance.now();
    while (this.running) {
      next += intervalMs;
      this.trigger({ via: 'interval' }).catch((err: unknown) => this.onTriggerError(err));
      const wait = next - performance.now();
      if (wait < -intervalMs * 10) next = performance.now(); // after a stall, do not fire a burst to catch up
      await sleep(Math.max(0, wait), this.abort.signal);
    }
  }

  private async runFiles(): Promise<void> {
    const source = this.deps.source;
    if (!source.frames) throw new Error(`camera ${source.type} cannot deliver files`);
    try {
      for await (const frame of source.frames(this.abort.signal)) {
        if (this.deps.store.inspections.hasSource(this.id, frame.sourceRef)) {
          // Processed before a crash or restart, but not yet moved: settle it, do not inspect it twice.
          this.deps.log.info({ sourceRef: frame.sourceRef }, 'file already inspected; settling it without a second inspection');
          await source.settle?.(frame, 'done');
          continue;
        }
        // A folder is not a conveyor: wait for room rather than drop a file.
        while (this.running && this.inFlight >= this.cfg.maxInFlight) await sleep(5);
        if (!this.running) break;
        void new Promise<Inspection>((resolve, reject) => this.run({ req: { via: 'file' }, frame, triggeredAt: new Date(), resolve, reject })).catch((err: unknown) =>
          this.onTriggerError(err),
        );
      }
    } catch (err) {
      if (this.running) this.deps.log.error({ err: errorMessage(err) }, 'folder camera stopped delivering files');
    }
  }

  private onTriggerError(err: unknown): void {
    if (isLoupeError(err, 'LOUPE_ERR_STATION_BUSY')) {
      if (this.missed === 1 || this.missed % 100 === 0) this.deps.log.warn({ missed: this.missed }, err.message);
      return;
    }
    if (isLoupeError(err, 'LOUPE_ERR_STATION_STOPPED')) return;
    // One line per failure streak, not one per part: a full disk would otherwise flood the log.
    this.failures++;
    if (this.failures === 1 || this.failures % 100 === 0) {
      this.deps.log.error({ err: errorMessage(err), code: isLoupeError(err) ? err.code : undefined, failures: this.failures }, `part not recorded: ${errorMessage(err)}`);
    }
  }

  private run(job: Job): void {
    this.inFlight++;
    const previous = this.lastAnnounced;
    const done = this.inspect(job).then(
      async (inspection) => {
        await previous;
        this.announce(inspection);
        job.resolve(inspection);
      },
      async (err: unknown) => {
        await previous;
        job.reject(err);
      },
    );
    this.lastAnnounced = done.then(() => undefined);
    void done.finally(() => {
      this.inFlight--;
      const next = this.running ? this.queue.shift() : undefined;
      if (next) this.run(next);
    });
  }

  private announce(i: Inspection): void {
    if (this.failures > 0) this.deps.log.info({ failed: this.failures }, 'parts are recorded again');
    this.failures = 0;
    this.window[i.state === 'error' ? 'error' : (i.modelVerdict ?? 'error')]++;
    this.window.totalMs.push(i.timings.totalMs ?? 0);
    this.parts++;
    this.lastPartAt = new Date();
    this.recent.push(Date.now());
    this.deps.metrics.parts.inc({ station: this.id, verdict: i.state === 'error' ? 'error' : (i.modelVerdict ?? 'error') });
    const log = this.deps.log;
    const line = { partId: i.partId, inspection: i.id, verdict: i.modelVerdict, score: i.defectScore, ms: Math.round(i.timings.totalMs ?? 0) };
    if (i.state === 'error') log.warn({ ...line, code: i.errorCode }, `part ${i.partId}: no result (${i.reason})`);
    else if (i.modelVerdict === 'pass' && !i.audit) log.debug(line, `part ${i.partId}: pass`);
    else log.info(line, `part ${i.partId}: ${i.modelVerdict}${i.audit ? ' (audit sample)' : ''}: ${i.reason}`);
    // Each consumer (PLC, review queue, uplink, live screens) on its own: one that throws must not keep the
    // others from hearing of the part, nor stop the line.
    for (const listener of this.rawListeners('inspected')) {
      try {
        listener(i);
      } catch (err) {
        log.error({ err, code: 'LOUPE_ERR_INTERNAL', partId: i.partId, inspection: i.id }, `a consumer of part ${i.partId} failed: ${errorMessage(err)}; the line goes on`);
      }
    }
    if (this.shadowTap) this.toShadow(this.shadowTap, i);
  }

  private toShadow(tap: ShadowTap, i: Inspection): void {
    const frame = this.shadowFrames.get(i);
    if (!frame) return;
    this.shadowFrames.delete(i);
    try {
      tap(i, frame);
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err), partId: i.partId }, 'shadow tap failed; the part is unaffected');
    }
  }

  /** One part through the pipeline. Never throws for a bad frame: that is an inspection with state error. */
  private async inspect(job: Job): Promise<Inspection> {
    const { detector, metrics, thresholds } = this.deps;
    const t0 = performance.now();
    const id = ulid(job.triggeredAt.getTime());
    const m = detector.manifest;
    const base: Inspection = {
      id,
      partId: job.req.partId ?? job.frame?.partId ?? id,
      station: this.id,
      triggeredAt: job.triggeredAt,
      trigger: job.req.via,
      modelId: m.id,
      modelVersion: m.version,
      findings: [],
      defectScore: null,
      modelVerdict: null,
      verdict: null,
      defectClass: null,
      decidedBy: null,
      reason: '',
      audit: false,
      state: 'error',
      errorCode: null,
      timings: {},
      imageRef: null,
      sourceRef: null,
      truth: null,
    };
    const observe = (stage: string, ms: number) => metrics.stageSeconds.observe({ station: this.id, stage }, ms / 1000);

    let frame = job.frame;
    try {
      if (!frame) {
        frame = await this.deps.source.grab(this.abort.signal);
        base.timings.grabMs = performance.now() - t0;
        observe('grab', base.timings.grabMs);
      }
    } catch (err) {
      job.req.onGrabbed?.();
      return this.record(fail(base, err), null, null, t0);
    }
    job.req.onGrabbed?.();
    base.sourceRef = frame.sourceRef;
    base.truth = frame.truth ?? null;
    // The image goes to disk while the model works on it: the row still waits for it (record), the part does not.
    const image = this.saveImage(frame, base);

    let inspection: Inspection;
    try {
      const d = await detector.detect(frame.data);
      const t1 = performance.now();
      const decision = decide(d.result, thresholds, (this.deps.random ?? Math.random)());
      const decideMs = performance.now() - t1;
      Object.assign(base.timings, { decodeMs: d.decodeMs, preprocessMs: d.preprocessMs, inferMs: d.inferMs, decideMs });
      observe('decode', d.decodeMs);
      observe('preprocess', d.preprocessMs);
      observe('infer', d.inferMs);
      inspection = {
        ...base,
        findings: d.result.findings,
        defectScore: d.result.defectScore,
        modelVerdict: decision.verdict,
        verdict: decision.verdict,
        defectClass: decision.defectClass,
        decidedBy: decision.verdict === 'review' ? null : 'model',
        reason: decision.reason,
        audit: decision.audit,
        state: decision.verdict === 'review' || decision.audit ? 'awaiting-review' : 'decided',
      };
    } catch (err) {
      if (!isLoupeError(err)) this.deps.log.error({ err, partId: base.partId }, 'unexpected error inspecting a part');
      inspection = fail(base, err);
    }
    return this.record(inspection, frame, image, t0);
  }

  /** The frame to the image store (atomic); never rejects: a part whose image cannot be kept is recorded without it. */
  private saveImage(frame: Frame, i: Inspection): Promise<SavedImage> {
    const { store, metrics, log } = this.deps;
    return store.images.write(this.id, i.id, i.triggeredAt, sniffImageType(frame.data) ?? 'bin', frame.data).then(
      (ref) => {
        this.imageWarned = false;
        return { ref, bytes: frame.data.length };
      },
      (err: unknown) => {
        metrics.imagesSkipped.inc({ station: this.id });
        if (!this.imageWarned) log.error({ err: errorMessage(err), code: isLoupeError(err) ? err.code : undefined }, `inspections are recorded without images: ${errorMessage(err)}`);
        this.imageWarned = true;
        return { ref: null, bytes: 0 };
      },
    );
  }

  /** Image first, then the row: a committed row never points at a missing image. */
  private async record(i: Inspection, frame: Frame | null, image: Promise<SavedImage> | null, t0: number): Promise<Inspection> {
    const { store, metrics } = this.deps;
    if (i.state === 'error') metrics.frameErrors.inc({ station: this.id, code: i.errorCode ?? 'unknown' });
    const ts = performance.now();
    let bytes = 0;
    if (image) {
      const saved = await image;
      i.imageRef = saved.ref;
      bytes = saved.bytes;
    }
    // The row carries timings up to its own commit; the returned record adds the commit.
    i.timings.storeMs = performance.now() - ts;
    i.timings.totalMs = performance.now() - t0;
    try {
      store.inspections.insert(i, bytes);
    } catch (err) {
      // Nothing leaves the box for a part the log does not hold: the trigger fails (the PLC sees no result).
      throw new LoupeError('LOUPE_ERR_STORE_WRITE', `cannot record inspection of part ${i.partId}: ${errorMessage(err)}; check free disk space under gateway.dataDir`, { cause: err });
    }
    i.timings.storeMs = performance.now() - ts;
    i.timings.totalMs = performance.now() - t0;
    metrics.stageSeconds.observe({ station: this.id, stage: 'store' }, i.timings.storeMs / 1000);
    metrics.stageSeconds.observe({ station: this.id, stage: 'total' }, i.timings.totalMs / 1000);
    if (frame) await this.deps.source.settle?.(frame, i.state === 'error' && i.errorCode === 'LOUPE_ERR_FRAME_DECODE' ? 'rejected' : 'done');
    if (frame && this.shadowTap && i.state !== 'error') this.shadowFrames.set(i, frame.data);
    return i;
  }
}

function fail(i: Inspection, err: unknown): Inspection {
  const code: ErrorCode = isLoupeError(err) ? err.code : 'LOUPE_ERR_INTERNAL';
  return { ...i, state: 'error', errorCode: code, reason: errorMessage(err), verdict: null, modelVerdict: null };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
