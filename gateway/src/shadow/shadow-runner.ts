import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { Verdict } from '../inspect/inspection.js';
import { decide, type Thresholds } from '../inspect/policy.js';
import type { ShadowTap } from '../inspect/station.js';
import type { Metrics } from '../metrics.js';
import type { ShadowResultRepo } from '../store/shadow-results.js';
import type { Detector } from '../vision/detector.js';

export interface ShadowCounts {
  compared: number;
  /** Parts left out because the station was busy with the next part or the candidate was still on the previous one. */
  skipped: number;
  failed: number;
}

/** Never audit in shadow: audit sampling is the active model's, and a draw of 1 never samples. */
const NO_AUDIT = 1;
/** Persist the skip and failure counts this often while a run goes on. */
const COUNTS_EVERY = 50;

/**
 * A candidate model beside the active one on one station. It sees a part
 * only after the station announced it (the verdict is out, the PLC has it),
 * works on a copy of what it needs, and writes only to `shadow_result`.
 * One part at a time and only while the station is idle: when it falls
 * behind it skips parts, it never queues them, so it cannot hold up the line
 * or grow without bound.
 */
export class ShadowRunner {
  private busy = false;
  private stopped = false;
  private current: Promise<void> = Promise.resolve();
  private readonly counts: ShadowCounts;
  private failureStreak = 0;

  constructor(
    private readonly deps: {
      runId: number;
      station: { readonly id: string; readonly idle: boolean };
      detector: Detector;
      thresholds: Thresholds;
      repo: ShadowResultRepo;
      metrics: Metrics;
      log: Logger;
      sampleRate: number;
      random?: () => number;
      /** Counts so far, for a run resumed after a restart. */
      initial?: ShadowCounts;
    },
  ) {
    this.counts = { ...(deps.initial ?? { compared: 0, skipped: 0, failed: 0 }) };
  }

  get runId(): number {
    return this.deps.runId;
  }

  get detector(): Detector {
    return this.deps.detector;
  }

  get thresholds(): Thresholds {
    return this.deps.thresholds;
  }

  stats(): ShadowCounts {
    return { ...this.counts };
  }

  /** The station's shadow tap: returns at once, never throws. */
  readonly tap: ShadowTap = (inspection, frame) => {
    if (this.stopped || inspection.modelVerdict === null) return;
    if (this.busy) return this.skip('skipped-behind');
    if (this.deps.sampleRate < 1 && (this.deps.random ?? Math.random)() >= this.deps.sampleRate) return;
    this.busy = true;
    const part = { id: inspection.id, partId: inspection.partId, verdict: inspection.modelVerdict, score: inspection.defectScore };
    // Out of the announcement: whatever the station does next runs before the candidate starts.
    this.current = new Promise((resolve) => setImmediate(resolve)).then(() => this.inspect(part, frame));
  };

  /** Stop taking parts and wait for the one in progress. */
  async stop(): Promise<ShadowCounts> {
    this.stopped = true;
    await this.current;
    return this.stats();
  }

  /** Resolves when the candidate is not working on a part (benchmarks pace a line with gaps by it). */
  whenIdle(): Promise<void> {
    return this.current;
  }

  private skip(outcome: 'skipped-behind' | 'skipped-busy'): void {
    this.counts.skipped++;
    this.deps.metrics.shadowParts.inc({ station: this.deps.station.id, outcome });
    if (this.counts.skipped % COUNTS_EVERY === 0) this.persistCounts();
  }

  private async inspect(part: { id: string; partId: string; verdict: Verdict; score: number | null }, frame: Buffer): Promise<void> {
    const { station, detector, thresholds, repo, metrics, log } = this.deps;
    try {
      if (this.stopped) return;
      // The next part is already on its way: it gets the CPU, this one is skipped.
      if (!station.idle) return this.skip('skipped-busy');
      const t0 = performance.now();
      const d = await detector.detect(frame);
      const inferMs = performance.now() - t0;
      const decision = decide(d.result, thresholds, NO_AUDIT);
      repo.insertResult({
        runId: this.deps.runId,
        inspectionId: part.id,
        activeVerdict: part.verdict,
        activeScore: part.score,
        candidateVerdict: decision.verdict,
        candidateScore: d.result.defectScore,
        candidateClass: decision.defectClass,
        inferMs,
        at: new Date(),
      });
      this.counts.compared++;
      this.failureStreak = 0;
      metrics.shadowParts.inc({ station: station.id, outcome: 'compared' });
      metrics.shadowInferSeconds.observe({ station: station.id }, inferMs / 1000);
    } catch (err) {
      this.counts.failed++;
      this.failureStreak++;
      metrics.shadowParts.inc({ station: station.id, outcome: 'failed' });
      // One line per failure streak: a candidate that fails every part must not flood the log.
      if (this.failureStreak === 1 || this.failureStreak % 100 === 0) {
        log.warn({ err: errorMessage(err), partId: part.partId, failures: this.counts.failed }, `shadow candidate failed on part ${part.partId}: ${errorMessage(err)}`);
      }
    } finally {
      this.busy = false;
    }
  }

  private persistCounts(): void {
    try {
      this.deps.repo.updateCounts(this.deps.runId, { skipped: this.counts.skipped, failed: this.counts.failed });
    } catch (err) {
      this.deps.log.debug({ err: errorMessage(err) }, 'shadow counts not saved');
    }
  }
}
