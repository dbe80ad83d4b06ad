import type { Logger } from 'pino';
import type { ModelsConfig } from '../config/sections/models.js';
import { LoupeError } from '../errors.js';
import type { ModelEvent, ModelRef, RegisteredPackage } from '../store/model-registry.js';
import type { ShadowResultRepo, ShadowRun } from '../store/shadow-results.js';
import type { ShadowManager } from '../shadow/shadow-manager.js';
import { shadowReport, type ShadowReport } from '../shadow/shadow-report.js';
import type { IncomingPackage, IntakeResult, ModelRegistry } from './registry.js';
import type { StationModels } from './station-models.js';

/** Who asks for an action and why: every action is recorded with both. */
export interface Actor {
  actor: string;
  reason: string;
}

export interface StationModelState {
  station: string;
  active: ModelRef;
  /** Path of the station's configured package (stations[].model.path). */
  configuredPath: string;
  /** The model a rollback returns to, or null. */
  rollbackTo: ModelRef | null;
  /** False while a PLC recipe has switched the station to another model. */
  inControl: boolean;
  /** Why the station does not run its promoted model, if so. */
  problem: string | null;
  shadow: { runId: number; modelId: string; version: string; startedBy: string; startedAt: string; compared: number; skipped: number; failed: number } | null;
}

export interface PackageState extends RegisteredPackage {
  /** Stations that run it now. */
  activeOn: string[];
  /** Stations that shadow it now. */
  shadowOn: string[];
}

/**
 * Everything engineers do with models, one method per action: register a
 * package, start and stop a shadow run, read its report, promote, roll
 * back. Each action is one call, refused as a whole or done as a whole, and
 * recorded in the event log with who and why. Actions on one station run
 * one at a time.
 */
export class ModelLifecycle {
  private readonly locked = new Set<string>();

  constructor(
    private readonly deps: {
      registry: ModelRegistry;
      shadows: ShadowManager;
      shadowRepo: ShadowResultRepo;
      stations: ReadonlyMap<string, StationModels>;
      cfg: ModelsConfig;
      log: Logger;
    },
  ) {}

  get registry(): ModelRegistry {
    return this.deps.registry;
  }

  get shadows(): ShadowManager {
    return this.deps.shadows;
  }

  stationIds(): string[] {
    return [...this.deps.stations.keys()];
  }

  /** Verify and register a package sent for `station` (null: for none in particular). */
  register(p: IncomingPackage): Promise<IntakeResult> {
    if (p.station !== null) this.models(p.station);
    return this.deps.registry.intake(p);
  }

  packages(): PackageState[] {
    const active = new Map<string, string[]>();
    const shadow = new Map<string, string[]>();
    const add = (m: Map<string, string[]>, key: string, station: string) => m.set(key, [...(m.get(key) ?? []), station]);
    for (const [id, sm] of this.deps.stations) {
      const r = sm.current.ref;
      if (r.source === 'registry') add(active, `${r.modelId}@${r.version}`, id);
      const s = this.deps.shadows.current(id);
      if (s) add(shadow, `${s.run.modelId}@${s.run.version}`, id);
    }
    return this.deps.registry.packages().map((p) => ({ ...p, activeOn: active.get(`${p.modelId}@${p.version}`) ?? [], shadowOn: shadow.get(`${p.modelId}@${p.version}`) ?? [] }));
  }

  state(stationId: string): StationModelState {
    const sm = this.models(stationId);
    const s = this.deps.shadows.current(stationId);
    let inControl = true;
    try {
      sm.assertInControl();
    } catch {
      inControl = false;
    }
    return {
      station: stationId,
      active: sm.current.ref,
      configuredPath: sm.cfg.model.path,
      rollbackTo: sm.rollbackTarget(),
      inControl,
      problem: sm.problem,
      shadow: s ? { runId: s.run.id, modelId: s.run.modelId, version: s.run.version, startedBy: s.run.startedBy, startedAt: s.run.startedAt.toISOString(), ...s.stats } : null,
    };
  }

  history(stationId: string, opts: { before?: number; limit: number }): ModelEvent[] {
    this.models(stationId);
    return this.deps.registry.repo.events(stationId, opts);
  }

  startShadow(stationId: string, modelId: string, version: string, who: Actor): Promise<ShadowRun> {
    return this.exclusive(stationId, async () => {
      const sm = this.models(stationId);
      const pkg = this.deps.registry.get(modelId, version);
      const r = sm.current.ref;
      if (r.source === 'registry' && r.modelId === modelId && r.version === version) {
        throw new LoupeError('LOUPE_ERR_MODEL_ALREADY_ACTIVE', `${modelId}@${version} is the active model of station ${stationId}: shadow a candidate instead`);
      }
      const run = await this.deps.shadows.start(sm.station, sm.cfg, pkg, who.actor);
      this.record(stationId, 'shadow-start', pkg, who, { run: run.id, passBelow: run.passBelow, failAtOrAbove: run.failAtOrAbove });
      return run;
    });
  }

  stopShadow(stationId: string, who: Actor): Promise<ShadowRun> {
    return this.exclusive(stationId, async () => {
      this.models(stationId);
      const run = await this.stopShadowNow(stationId, who);
      if (!run) throw new LoupeError('LOUPE_ERR_MODEL_SHADOW_NONE', `station ${stationId} has no shadow run going`);
      return run;
    });
  }

  /** The running shadow run's report, else the newest run of `modelId@version` (or of any package) on the station. */
  report(stationId: string, pick?: { modelId: string; version: string }): ShadowReport {
    this.models(stationId);
    const live = this.deps.shadows.current(stationId);
    const run =
      live && (!pick || (live.run.modelId === pick.modelId && live.run.version === pick.version))
        ? live.run
        : pick
          ? this.deps.shadowRepo.latestRun(stationId, pick.modelId, pick.version)
          : this.deps.shadowRepo.latestRunOnStation(stationId);
    if (!run) {
      throw new LoupeError('LOUPE_ERR_MODEL_SHADOW_NONE', `station ${stationId} has no shadow run${pick ? ` of ${pick.modelId}@${pick.version}` : ''}: start one with POST /api/models/${stationId}/shadow`);
    }
    const stats = live && live.run.id === run.id ? live.stats : null;
    return shadowReport(run, this.deps.shadowRepo.tally(run.id), stats, this.deps.cfg.promote);
  }

  /**
   * Make `modelId@version` the station's model from the next part on. Needs
   * the newest shadow run of that package on this station to pass the gate,
   * unless `force` (recorded as such). A shadow run stops first: its
   * comparisons were against the model being replaced.
   */
  promote(stationId: string, modelId: string, version: string, who: Actor & { force: boolean }): Promise<ModelRef> {
    return this.exclusive(stationId, async () => {
      const sm = this.models(stationId);
      const pkg = this.deps.registry.get(modelId, version);
      const active = sm.current.ref;
      if (active.source === 'registry' && active.modelId === modelId && active.version === version) {
        throw new LoupeError('LOUPE_ERR_MODEL_ALREADY_ACTIVE', `${modelId}@${version} already runs on station ${stationId}`);
      }
      sm.assertInControl();
      let report: ShadowReport | null = null;
      try {
        report = this.report(stationId, { modelId, version });
      } catch {
        report = null;
      }
      const gate = report ? { ok: report.gate.ok, reasons: [...report.gate.reasons] } : { ok: false, reasons: [`${modelId}@${version} never ran in shadow on station ${stationId}`] };
      const lastSwitch = this.deps.registry.repo.switches(stationId).at(-1);
      if (report && lastSwitch && Date.parse(report.startedAt) < lastSwitch.at.getTime()) {
        gate.ok = false;
        gate.reasons.push(`its shadow run ${report.runId} compared it with the model the station ran before its last ${lastSwitch.action}: shadow it again`);
      }
      const evidence = report ? { run: report.runId, parts: report.parts, confirmed: report.confirmed.parts, activeCost: report.confirmed.active.cost, candidateCost: report.confirmed.candidate.cost, agreement: report.agreement.share } : null;
      if (!gate.ok && !who.force) {
        this.record(stationId, 'promote-refused', pkg, who, { reasons: gate.reasons, evidence });
        throw new LoupeError('LOUPE_ERR_MODEL_PROMOTE_GATE', `promoting ${modelId}@${version} on station ${stationId} refused: ${gate.reasons.join('; ')}; shadow it longer, or promote with force and a reason`, {
          details: { reasons: gate.reasons, evidence },
        });
      }
      const live = this.deps.shadows.current(stationId);
      if (live) {
        const itself = live.run.modelId === modelId && live.run.version === version;
        await this.stopShadowNow(stationId, { actor: who.actor, reason: itself ? `promoted: ${who.reason}` : `the active model changed (promotion of ${modelId}@${version})` });
      }
      return sm.promote(pkg, { actor: who.actor, reason: who.reason, detail: { forced: !gate.ok, gate: gate.reasons, evidence } });
    });
  }

  /**
   * Return the station to the model it ran before its current promotion.
   * Never gated: that model was on the line. A shadow run stops (it compared
   * against the model being replaced).
   */
  rollback(stationId: string, who: Actor): Promise<ModelRef> {
    return this.exclusive(stationId, async () => {
      const sm = this.models(stationId);
      sm.assertInControl();
      if (sm.rollbackTarget() === null) return sm.rollback(who);
      if (this.deps.shadows.current(stationId)) await this.stopShadowNow(stationId, { actor: who.actor, reason: 'the active model changed (rollback)' });
      return sm.rollback(who);
    });
  }

  /** Suspend shadow runs (the next start resumes them) and release loaded models; call after the stations stopped. */
  async stop(): Promise<void> {
    await this.deps.shadows.suspendAll();
    for (const sm of this.deps.stations.values()) await sm.close();
  }

  private async stopShadowNow(stationId: string, who: Actor): Promise<ShadowRun | null> {
    const before = this.deps.shadows.current(stationId);
    const run = await this.deps.shadows.stop(stationId, who.actor);
    if (run && before) {
      this.record(stationId, 'shadow-stop', { modelId: run.modelId, version: run.version, sha256: run.sha256 }, who, { run: run.id, ...before.stats });
    }
    return run;
  }

  private record(station: string, action: ModelEvent['action'], p: Pick<RegisteredPackage, 'modelId' | 'version' | 'sha256'>, who: Actor, detail: Record<string, unknown>): void {
    this.deps.registry.repo.recordEvent({ station, action, model: { source: 'registry', modelId: p.modelId, version: p.version, sha256: p.sha256 }, actor: who.actor, reason: who.reason, detail });
  }

  private models(stationId: string): StationModels {
    const sm = this.deps.stations.get(stationId);
    if (!sm) throw new LoupeError('LOUPE_ERR_STATION_UNKNOWN', `no station "${stationId}", expected one of ${[...this.deps.stations.keys()].join(', ')}`);
    return sm;
  }

  private async exclusive<T>(stationId: string, fn: () => Promise<T>): Promise<T> {
    this.models(stationId);
    if (this.locked.has(stationId)) throw new LoupeError('LOUPE_ERR_MODEL_BUSY', `another model action on station ${stationId} is still running: try again when it finished`);
    this.locked.add(stationId);
    try {
      return await fn();
    } finally {
      this.locked.delete(stationId);
    }
  }
}
