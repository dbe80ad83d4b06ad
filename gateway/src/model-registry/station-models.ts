import type { Logger } from 'pino';
import type { StationConfig } from '../config/sections/station.js';
import { errorMessage, isLoupeError, LoupeError } from '../errors.js';
import { resolveThresholds } from '../inspect/policy.js';
import type { Station } from '../inspect/station.js';
import type { Metrics } from '../metrics.js';
import type { ModelEvent, ModelRef, RegisteredPackage } from '../store/model-registry.js';
import { Detector } from '../vision/detector.js';
import type { ModelRegistry } from './registry.js';

/** A model a station can run, loaded. */
export interface LoadedModel {
  ref: ModelRef;
  detector: Detector;
}

/** What a station starts with: its promoted package if it has one that still loads, else its configured model. */
export interface StartupModel extends LoadedModel {
  /** Why the station does not run its promoted package (it failed to load), or null. */
  problem: string | null;
}

export function refOf(d: Detector, source: ModelRef['source']): ModelRef {
  return { source, modelId: d.manifest.id, version: d.manifest.version, sha256: d.pkg.sha256 };
}

export function sameRef(a: ModelRef | null, b: ModelRef | null): boolean {
  if (a === null || b === null) return a === b;
  return a.source === b.source && a.modelId === b.modelId && a.version === b.version && (a.sha256 === null || b.sha256 === null || a.sha256 === b.sha256);
}

export function describeRef(r: ModelRef): string {
  return r.source === 'config' ? `the configured model (${r.modelId ?? '?'}@${r.version ?? '?'})` : `${r.modelId ?? '?'}@${r.version ?? '?'}`;
}

/**
 * Replays a station's promotions and rollbacks: a promotion pushes its
 * package, a rollback returns to the one below. The bottom is always the
 * configured model. The top is what the station runs.
 */
export function replaySwitches(events: readonly ModelEvent[], configured: ModelRef): ModelRef[] {
  const stack: ModelRef[] = [configured];
  for (const e of events) {
    if (e.model === null) continue;
    const target = e.model.source === 'config' ? configured : e.model;
    if (e.action === 'promote') stack.push(target);
    else if (e.action === 'rollback') {
      if (stack.length > 1) stack.pop();
      if (!sameRef(stack.at(-1) ?? null, target)) stack.splice(stack.length - 1, 1, target);
    }
  }
  return stack;
}

/** The configured model as a ref, read from its package without loading it. */
function configuredRef(d: Detector): ModelRef {
  return refOf(d, 'config');
}

/**
 * Load what a station should run at start. A promoted package that no
 * longer loads (deleted, changed on disk) must not keep the line down: the
 * station starts on its configured model and the problem is reported.
 */
export async function loadStartupModel(cfg: StationConfig, registry: ModelRegistry, log: Logger): Promise<StartupModel> {
  const switches = registry.repo.switches(cfg.id);
  const top = switches.length === 0 ? null : replaySwitches(switches, { source: 'config', modelId: null, version: null, sha256: null }).at(-1);
  if (top && top.source === 'registry' && top.modelId && top.version) {
    try {
      const pkg = registry.get(top.modelId, top.version);
      const detector = await registry.openDetector(pkg, cfg.model, log);
      log.info({ model: pkg.modelId, version: pkg.version }, `station ${cfg.id} runs its promoted model ${pkg.modelId}@${pkg.version} from the registry`);
      return { ref: { source: 'registry', modelId: pkg.modelId, version: pkg.version, sha256: pkg.sha256 }, detector, problem: null };
    } catch (err) {
      const problem = `promoted model ${top.modelId}@${top.version} cannot be loaded (${errorMessage(err)}); running the configured model ${cfg.model.path} instead`;
      log.error({ code: isLoupeError(err) ? err.code : 'LOUPE_ERR_MODEL_LOAD', model: top.modelId, version: top.version }, problem);
      const detector = await Detector.load(cfg.model, log);
      return { ref: configuredRef(detector), detector, problem };
    }
  }
  const detector = await Detector.load(cfg.model, log);
  return { ref: configuredRef(detector), detector, problem: null };
}

/**
 * The model one station runs, and switching it between parts. Promotions
 * and rollbacks are written to the event log before the station switches,
 * so the log is never behind the line; the previous model is released only
 * after every part that started with it has been announced.
 *
 * The detector the station started with belongs to the composition root
 * and is never closed here. PLC recipes run on top of whatever this class
 * made the station's own model (see plc/recipes.ts).
 */
export class StationModels {
  private active: LoadedModel;
  private readonly owned = new Set<Detector>();
  private readonly switchListeners: (() => void)[] = [];
  /** Why the station does not run what the registry says it should, if so. */
  problem: string | null;

  constructor(
    readonly station: Station,
    readonly cfg: StationConfig,
    private readonly startup: StartupModel,
    private readonly deps: { registry: ModelRegistry; metrics: Metrics; log: Logger },
  ) {
    this.active = { ref: startup.ref, detector: startup.detector };
    this.problem = startup.problem;
    this.setActiveGauge(null, startup.ref);
  }

  get current(): LoadedModel {
    return this.active;
  }

  /** The station's own model (what PLC recipe 0 runs). */
  get detector(): Detector {
    return this.active.detector;
  }

  /** Called right after each promotion or rollback has switched the station. */
  onSwitch(listener: () => void): void {
    this.switchListeners.push(listener);
  }

  /** The station's configured model, as history refers to it. */
  get configured(): ModelRef {
    return this.startup.ref.source === 'config' ? this.startup.ref : { source: 'config', modelId: null, version: null, sha256: null };
  }

  /** What the history says, from the configured model at the bottom to the active one on top. */
  stack(): ModelRef[] {
    return replaySwitches(this.deps.registry.repo.switches(this.cfg.id), this.configured);
  }

  /** The model a rollback would return to, or null. */
  rollbackTarget(): ModelRef | null {
    const s = this.stack();
    return s.length > 1 ? (s.at(-2) ?? null) : null;
  }

  /** Throws unless the station still runs what this class switched it to (a PLC recipe may have changed it). */
  assertInControl(): void {
    if (this.station.detector !== this.active.detector) {
      const d = this.station.detector;
      throw new LoupeError(
        'LOUPE_ERR_MODEL_SWITCH_CONFLICT',
        `station ${this.cfg.id} runs ${d.manifest.id}@${d.manifest.version}, switched to by a PLC recipe; select recipe 0 (the station's own model) before promoting or rolling back`,
      );
    }
  }

  async promote(pkg: RegisteredPackage, who: { actor: string; reason: string; detail: Record<string, unknown> }): Promise<ModelRef> {
    const ref: ModelRef = { source: 'registry', modelId: pkg.modelId, version: pkg.version, sha256: pkg.sha256 };
    if (sameRef(this.active.ref, ref)) throw new LoupeError('LOUPE_ERR_MODEL_ALREADY_ACTIVE', `${pkg.modelId}@${pkg.version} already runs on station ${this.cfg.id}`);
    this.assertInControl();
    const detector = await this.load(ref);
    return this.commit('promote', { ref, detector }, who);
  }

  async rollback(who: { actor: string; reason: string }): Promise<ModelRef> {
    this.assertInControl();
    const target = this.rollbackTarget();
    if (target === null) {
      throw new LoupeError('LOUPE_ERR_MODEL_NO_ROLLBACK', `station ${this.cfg.id} runs its configured model and has no earlier promotion to return to`);
    }
    const detector = await this.load(target);
    return this.commit('rollback', { ref: refOf(detector, target.source), detector }, { ...who, detail: {} });
  }

  /** Release the detectors this class loaded (the station is stopped by now). */
  async close(): Promise<void> {
    for (const d of this.owned) await d.close().catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err) }, 'closing a model failed'));
    this.owned.clear();
  }

  private async load(ref: ModelRef): Promise<Detector> {
    if (sameRef(ref, this.startup.ref) || (ref.source === 'config' && this.startup.ref.source === 'config')) return this.startup.detector;
    let detector: Detector;
    if (ref.source === 'config') {
      detector = await Detector.load(this.cfg.model, this.deps.log);
    } else {
      if (!ref.modelId || !ref.version) throw new LoupeError('LOUPE_ERR_MODEL_UNKNOWN', 'the history names a package without id or version');
      const pkg = this.deps.registry.get(ref.modelId, ref.version);
      detector = await this.deps.registry.openDetector(pkg, this.cfg.model, this.deps.log);
    }
    this.owned.add(detector);
    return detector;
  }

  private commit(action: 'promote' | 'rollback', next: LoadedModel, who: { actor: string; reason: string; detail: Record<string, unknown> }): ModelRef {
    const previous = this.active;
    const { registry, metrics, log } = this.deps;
    const partsBefore = this.station.status().parts;
    try {
      registry.repo.recordEvent({ station: this.cfg.id, action, model: next.ref, previous: previous.ref, actor: who.actor, reason: who.reason, detail: { ...who.detail, partsBefore } });
    } catch (err) {
      void this.release(next.detector);
      throw err;
    }
    // Synchronous from here: the next part to start runs the new model, every part already started finishes with the old one.
    this.station.switchModel(next.detector, resolveThresholds(this.cfg.policy, next.detector.manifest.thresholds));
    this.active = next;
    this.problem = null;
    for (const l of this.switchListeners) l();
    metrics.modelSwitches.inc({ station: this.cfg.id, action });
    this.setActiveGauge(previous.ref, next.ref);
    log.info(
      { action, model: next.ref.modelId, version: next.ref.version, source: next.ref.source, previous: `${previous.ref.modelId}@${previous.ref.version}`, by: who.actor, reason: who.reason, partsBefore },
      `station ${this.cfg.id}: ${action} to ${describeRef(next.ref)} by ${who.actor} (${who.reason}); parts from #${partsBefore + 1} on use it`,
    );
    if (previous.detector !== next.detector) void this.station.partsStartedSoFar().then(() => this.release(previous.detector));
    return next.ref;
  }

  private async release(d: Detector): Promise<void> {
    if (!this.owned.has(d) || d === this.active.detector) return;
    this.owned.delete(d);
    await d.close().catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err) }, 'closing the previous model failed'));
  }

  private setActiveGauge(previous: ModelRef | null, next: ModelRef): void {
    const g = this.deps.metrics.modelActive;
    if (previous) g.set({ station: this.cfg.id, model: previous.modelId ?? '', version: previous.version ?? '', source: previous.source }, 0);
    g.set({ station: this.cfg.id, model: next.modelId ?? '', version: next.version ?? '', source: next.source }, 1);
  }
}
