import type { Logger } from 'pino';
import type { PlcRecipeConfig } from '../config/sections/plc.js';
import type { StationConfig } from '../config/sections/station.js';
import { errorMessage, isLoupeError } from '../errors.js';
import { resolveThresholds } from '../inspect/policy.js';
import type { Station } from '../inspect/station.js';
import { Detector } from '../vision/detector.js';

export type RecipeState = 'ok' | 'loading' | 'unknown' | 'failed';

/**
 * The station's own model: what recipe 0 runs and what a recipe without a
 * model path applies its thresholds to. With a model registry that is the
 * package last promoted, so it changes; `onSwitch` says when.
 */
export interface OwnModel {
  readonly detector: Detector;
  onSwitch(listener: () => void): void;
}

/** The model the station was built with, for a gateway without promotions. */
export function fixedOwnModel(detector: Detector): OwnModel {
  return { detector, onSwitch: () => undefined };
}

/**
 * Product changes from the PLC's RecipeId: each id selects a model package
 * and thresholds for the station. The station's own model (id 0 or "") is
 * never closed here: its owner closes it. Models loaded for a recipe are
 * closed once the station no longer uses them.
 */
export class RecipeSwitcher {
  private active = '';
  private wanted = '';
  private loaded: Detector | null = null;
  private current: Promise<void> = Promise.resolve();
  state: RecipeState = 'ok';
  /** Why the state is not ok, for logs and the status screen. */
  problem: string | null = null;

  constructor(
    private readonly station: Station,
    private readonly stationCfg: StationConfig,
    private readonly recipes: Record<string, PlcRecipeConfig>,
    private readonly own: OwnModel,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {
    // A promotion replaced the station's own model and thresholds: a recipe that runs on the own model keeps its thresholds.
    own.onSwitch(() => {
      const recipe = this.recipes[this.active];
      if (this.active !== '' && recipe && !recipe.modelPath && this.state === 'ok') this.switchTo(own.detector, this.recipeThresholds(recipe, own.detector), null, this.active);
    });
  }

  /** True when the PLC's RecipeId means anything (a recipe table is configured). */
  get enabled(): boolean {
    return Object.keys(this.recipes).length > 0;
  }

  get activeId(): string {
    return this.active;
  }

  /** Select recipe `id` (as the PLC wrote it). Resolves when the station runs it, or it failed. */
  select(id: string): Promise<void> {
    const key = id === '0' ? '' : id;
    if (!this.enabled || key === this.wanted) return this.current;
    this.wanted = key;
    this.current = this.current.then(() => this.apply(key));
    return this.current;
  }

  private async apply(key: string): Promise<void> {
    if (key !== this.wanted) return; // a newer selection superseded this one
    const base = this.own.detector;
    if (key === '') {
      this.switchTo(base, resolveThresholds(this.stationCfg.policy, base.manifest.thresholds), null, key);
      return;
    }
    const recipe = this.recipes[key];
    if (!recipe) {
      this.set('unknown', `RecipeId ${key} is not in plc.client.blocks[].recipes (known: ${Object.keys(this.recipes).join(', ')})`);
      this.log.error({ code: 'LOUPE_ERR_PLC_RECIPE', recipe: key }, this.problem ?? '');
      return;
    }
    this.set('loading', `loading recipe ${key}`);
    try {
      const detector = recipe.modelPath ? await Detector.load({ ...this.stationCfg.model, path: recipe.modelPath }, this.log) : null;
      if (key !== this.wanted) {
        await detector?.close();
        return;
      }
      // The own model may have been promoted while a recipe model loaded.
      const model = detector ?? this.own.detector;
      this.switchTo(model, this.recipeThresholds(recipe, model), detector, key);
    } catch (err) {
      this.set('failed', `recipe ${key} cannot be loaded: ${errorMessage(err)}`);
      this.log.error({ code: isLoupeError(err) ? err.code : 'LOUPE_ERR_PLC_RECIPE', recipe: key }, this.problem ?? '');
    }
  }

  private recipeThresholds(recipe: PlcRecipeConfig, model: Detector): ReturnType<typeof resolveThresholds> {
    const policy = { ...this.stationCfg.policy, passBelow: recipe.passBelow ?? this.stationCfg.policy.passBelow, failAtOrAbove: recipe.failAtOrAbove ?? this.stationCfg.policy.failAtOrAbove };
    return resolveThresholds(policy, model.manifest.thresholds);
  }

  private switchTo(detector: Detector, thresholds: ReturnType<typeof resolveThresholds>, owned: Detector | null, key: string): void {
    this.station.switchModel(detector, thresholds);
    const previouslyOwned = this.loaded;
    this.loaded = owned;
    if (previouslyOwned && previouslyOwned !== owned) void this.closeWhenIdle(previouslyOwned);
    this.active = key;
    this.log.info({ recipe: key || '(station model)', model: detector.manifest.id, version: detector.manifest.version, passBelow: thresholds.passBelow, failAtOrAbove: thresholds.failAtOrAbove }, `recipe ${key || '0 (station model)'} active`);
    this.set('ok', null);
  }

  private async closeWhenIdle(d: Detector, maxWaitMs = 60_000): Promise<void> {
    // Parts in flight finish with the model they started with.
    const until = Date.now() + maxWaitMs;
    while (Date.now() < until) {
      const s = this.station.status();
      if (s.inFlight === 0 && s.queued === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await d.close().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'closing a recipe model failed'));
  }

  private set(state: RecipeState, problem: string | null): void {
    const changed = state !== this.state;
    this.state = state;
    this.problem = problem;
    if (changed) this.onChange();
  }

  /** Close the model loaded for a recipe (the station is stopped by now). */
  async close(): Promise<void> {
    await this.current;
    const d = this.loaded;
    this.loaded = null;
    if (d) {
      // Hand the station its own model back so nothing keeps a closed session.
      const base = this.own.detector;
      this.station.switchModel(base, resolveThresholds(this.stationCfg.policy, base.manifest.thresholds));
      await this.closeWhenIdle(d, 10_000);
    }
  }
}
