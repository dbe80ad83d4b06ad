import type { Logger } from 'pino';
import type { ModelsConfig } from '../config/sections/models.js';
import type { StationConfig } from '../config/sections/station.js';
import { errorMessage, LoupeError } from '../errors.js';
import { resolveThresholds, type Thresholds } from '../inspect/policy.js';
import type { Station } from '../inspect/station.js';
import type { Metrics } from '../metrics.js';
import type { ModelRegistry } from '../model-registry/registry.js';
import type { RegisteredPackage } from '../store/model-registry.js';
import type { ShadowResultRepo, ShadowRun } from '../store/shadow-results.js';
import type { Detector } from '../vision/detector.js';
import { ShadowRunner, type ShadowCounts } from './shadow-runner.js';

interface Running {
  runner: ShadowRunner;
  run: ShadowRun;
  station: Station;
}

/**
 * At most one shadow run per station: loads the candidate with the
 * station's execution providers but few threads, hands the station a tap,
 * and takes it away again. A run lasts until someone stops it (or a
 * promotion or rollback does): a restart, clean or not, suspends it and the
 * next start resumes it under the same run id, so days of evidence are not
 * lost to a power cut.
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

  /**
   * Resume the runs a previous process left open. A run whose station or
   * package is gone, or whose candidate no longer loads, is closed with the
   * reason; it never keeps the gateway from starting.
   */
  async resumeLeftovers(stations: ReadonlyMap<string, { station: Station; cfg: StationConfig }>): Promise<void> {
    const { registry, repo, log } = this.deps;
    for (const run of repo.openRuns()) {
      const target = stations.get(run.station);
      const close = (why: string) => {
        repo.stopRun(run.id, `gateway restart: ${why}`, new Date(), { skipped: run.skipped, failed: run.failed });
        log.warn({ station: run.station, run: run.id }, `shadow run ${run.id} of ${run.modelId}@${run.version} closed at start: ${why}`);
      };
      if (!target || this.running.has(run.station)) {
        close(target ? 'another run is open on the station' : `no station ${run.station} in the config`);
        continue;
      }
      try {
        const detector = await this.open(target.station, target.cfg, registry.get(run.modelId, run.version));
        // The thresholds the run started with, so its results stay comparable.
        const thresholds = { ...resolveThresholds(target.cfg.policy, detector.manifest.thresholds), passBelow: run.passBelow, failAtOrAbove: run.failAtOrAbove };
        const compared = repo.tally(run.id).reduce((n, t) => n + t.parts, 0);
        this.attach(target.station, detector, thresholds, run, { compared, skipped: run.skipped, failed: run.failed });
        log.info({ station: run.station, run: run.id, compared }, `station ${run.station}: shadow run ${run.id} of ${run.modelId}@${run.version} resumed (${compared} parts compared so far)`);
      } catch (err) {
        close(`the candidate cannot be loaded (${errorMessage(err)})`);
      }
    }
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
    const { repo, log } = this.deps;
    const detector = await this.open(station, cfg, pkg);
    try {
      if (this.running.has(station.id)) throw new LoupeError('LOUPE_ERR_MODEL_SHADOW_RUNNING', `station ${station.id} started another shadow meanwhile`);
      // The candidate's own suggested thresholds under the station's policy: what it would do if promoted.
      const thresholds = resolveThresholds(cfg.policy, detector.manifest.thresholds);
      const startedAt = new Date();
      const id = repo.startRun({ station: station.id, modelId: pkg.modelId, version: pkg.version, sha256: pkg.sha256, passBelow: thresholds.passBelow, failAtOrAbove: thresholds.failAtOrAbove, startedBy: actor, startedAt });
      const run = repo.run(id);
      if (!run) throw new LoupeError('LOUPE_ERR_STORE_WRITE', `shadow run ${id} was not recorded`);
      this.attach(station, detector, thresholds, run, { compared: 0, skipped: 0, failed: 0 });
      log.info({ station: station.id, run: id, passBelow: thresholds.passBelow, failAtOrAbove: thresholds.failAtOrAbove, provider: detector.provider }, `station ${station.id}: shadowing ${pkg.modelId}@${pkg.version} (run ${id}), started by ${actor}`);
      return run;
    } catch (err) {
      await detector.close();
      throw err;
    }
  }

  private open(station: Station, cfg: StationConfig, pkg: RegisteredPackage): Promise<Detector> {
    const slog = this.deps.log.child({ station: station.id, shadow: `${pkg.modelId}@${pkg.version}` });
    return this.deps.registry.openDetector(pkg, { ...cfg.model, intraOpThreads: this.deps.cfg.intraOpThreads, warmupRuns: 1 }, slog);
  }

  /** Hand the station the tap of a run already recorded. */
  private attach(station: Station, detector: Detector, thresholds: Thresholds, run: ShadowRun, counts: ShadowCounts): void {
    const { repo, metrics, log } = this.deps;
    const slog = log.child({ station: station.id, shadow: `${run.modelId}@${run.version}` });
    const runner = new ShadowRunner({ runId: run.id, station, detector, thresholds, repo, metrics, log: slog, sampleRate: this.deps.cfg.sampleRate, initial: counts, ...(this.deps.random ? { random: this.deps.random } : {}) });
    this.running.set(station.id, { runner, run, station });
    station.setShadowTap(runner.tap);
  }

  /** Stop a station's shadow run; null when none was running. */
  async stop(stationId: string, actor: string): Promise<ShadowRun | null> {
    const r = this.running.get(stationId);
    if (!r) return null;
    const counts = await this.detach(stationId, r);
    this.deps.repo.stopRun(r.run.id, actor, new Date(), { skipped: counts.skipped, failed: counts.failed });
    this.deps.log.info({ station: stationId, run: r.run.id, ...counts }, `station ${stationId}: shadow run ${r.run.id} of ${r.run.modelId}@${r.run.version} stopped by ${actor}: ${counts.compared} parts compared, ${counts.skipped} skipped`);
    return this.deps.repo.run(r.run.id) ?? null;
  }

  /** Gateway stopping: take the taps away and save the counts, leaving each run open for the next start. */
  async suspendAll(): Promise<void> {
    for (const [id, r] of [...this.running.entries()]) {
      const counts = await this.detach(id, r);
      this.deps.repo.updateCounts(r.run.id, { skipped: counts.skipped, failed: counts.failed });
      this.deps.log.info({ station: id, run: r.run.id, ...counts }, `station ${id}: shadow run ${r.run.id} suspended until the next start`);
    }
  }

  /** Take the station's tap away, let the part in progress finish, release the candidate. */
  private async detach(stationId: string, r: Running): Promise<ShadowCounts> {
    this.running.delete(stationId);
    r.station.setShadowTap(null);
    const counts = await r.runner.stop();
    await r.runner.detector.close().catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err) }, 'closing a shadow model failed'));
    return counts;
  }
}
