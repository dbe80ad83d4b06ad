import type { Logger } from 'pino';
import type { ModelsConfig } from '../config/sections/models.js';
import type { StationConfig } from '../config/sections/station.js';
import { errorMessage, LoupeError } from '../errors.js';
import { resolveThresholds } from '../inspect/policy.js';
import type { Station } from '../inspect/station.js';
import type { Metrics } from '../metrics.js';
import type { ModelRegistry } from '../model-registry/registry.js';
import type { RegisteredPackage } from '../store/model-registry.js';
import type { ShadowResultRepo, ShadowRun } from '../store/shadow-results.js';
import { ShadowRunner, type ShadowCounts } from './shadow-runner.js';

interface Running {
  runner: ShadowRunner;
  run: ShadowRun;
  station: Station;
}

/**
 * At most one shadow run per station: loads the candidate with the
 * station's execution providers but few threads, hands the station a tap,
 * and takes it away again. Runs do not survive a restart; a run a previous
 * process left open is closed at start.
 */
export class ShadowManager {
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly deps: {
      repo: ShadowResultRepo;
      registry: ModelRegistry;
      cfg: ModelsConfig['shadow'];
      metrics: Metrics;
      log: Logger;
      random?: () => number;
    },
  ) {}

  /** Close runs a previous process never stopped (it crashed or was killed). */
  closeLeftovers(): void {
    for (const r of this.deps.repo.openRuns()) this.deps.repo.stopRun(r.id, 'gateway restart', new Date(), { skipped: r.skipped, failed: r.failed });
  }

  current(station: string): { run: ShadowRun; stats: ShadowCounts } | null {
    const r = this.running.get(station);
    return r ? { run: r.run, stats: r.runner.stats() } : null;
  }

  /** The live runner, for benchmarks that pace a line with gaps. */
  runner(station: string): ShadowRunner | null {
    return this.running.get(station)?.runner ?? null;
  }

  async start(station: Station, cfg: StationConfig, pkg: RegisteredPackage, actor: string): Promise<ShadowRun> {
    const busy = this.running.get(station.id);
    if (busy) {
      throw new LoupeError('LOUPE_ERR_MODEL_SHADOW_RUNNING', `station ${station.id} already shadows ${busy.run.modelId}@${busy.run.version} (run ${busy.run.id}): stop it first`);
    }
    const { registry, repo, metrics, log } = this.deps;
    const slog = log.child({ station: station.id, shadow: `${pkg.modelId}@${pkg.version}` });
    const detector = await registry.openDetector(pkg, { ...cfg.model, intraOpThreads: this.deps.cfg.intraOpThreads, warmupRuns: 1 }, slog);
    try {
      if (this.running.has(station.id)) throw new LoupeError('LOUPE_ERR_MODEL_SHADOW_RUNNING', `station ${station.id} started another shadow meanwhile`);
      // The candidate's own suggested thresholds under the station's policy: what it would do if promoted.
      const thresholds = resolveThresholds(cfg.policy, detector.manifest.thresholds);
      const startedAt = new Date();
      const id = repo.startRun({ station: station.id, modelId: pkg.modelId, version: pkg.version, sha256: pkg.sha256, passBelow: thresholds.passBelow, failAtOrAbove: thresholds.failAtOrAbove, startedBy: actor, startedAt });
      const runner = new ShadowRunner({ runId: id, station, detector, thresholds, repo, metrics, log: slog, sampleRate: this.deps.cfg.sampleRate, ...(this.deps.random ? { random: this.deps.random } : {}) });
      const run = repo.run(id);
      if (!run) throw new LoupeError('LOUPE_ERR_STORE_WRITE', `shadow run ${id} was not recorded`);
      this.running.set(station.id, { runner, run, station });
      station.setShadowTap(runner.tap);
      slog.info({ run: id, passBelow: thresholds.passBelow, failAtOrAbove: thresholds.failAtOrAbove, provider: detector.provider }, `station ${station.id}: shadowing ${pkg.modelId}@${pkg.version} (run ${id}), started by ${actor}`);
      return run;
    } catch (err) {
      await detector.close();
      throw err;
    }
  }

  /** Stop a station's shadow run; null when none was running. */
  async stop(stationId: string, actor: string): Promise<ShadowRun | null> {
    const r = this.running.get(stationId);
    if (!r) return null;
    this.running.delete(stationId);
    r.station.setShadowTap(null);
    const counts = await r.runner.stop();
    this.deps.repo.stopRun(r.run.id, actor, new Date(), { skipped: counts.skipped, failed: counts.failed });
    await r.runner.detector.close().catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err) }, 'closing a shadow model failed'));
    this.deps.log.info({ station: stationId, run: r.run.id, ...counts }, `station ${stationId}: shadow run ${r.run.id} of ${r.run.modelId}@${r.run.version} stopped by ${actor}: ${counts.compared} parts compared, ${counts.skipped} skipped`);
    return this.deps.repo.run(r.run.id) ?? null;
  }

  async stopAll(actor: string): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id, actor);
  }
}
