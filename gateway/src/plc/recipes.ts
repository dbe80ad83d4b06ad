import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { PlcRecipeConfig } from '../config/sections/plc.js';
import type { StationConfig } from '../config/sections/station.js';
import { errorMessage, isLoupeError } from '../errors.js';
import { resolveThresholds } from '../inspect/policy.js';
import type { Station } from '../inspect/station.js';
import { Detector } from '../vision/detector.js';

export type RecipeState = 'ok' | 'loading' | 'unknown' | 'failed';

/**
 * Product changes from the PLC's RecipeId: each id selects a model package
 * and thresholds for the station. The station's own model (id 0 or "") is
 * never closed here: the composition root owns it. Models loaded for a recipe
 * are closed once the station no longer uses them.
 */
export class RecipeSwitcher {
  private active = '';
  private wanted = '';
  private loaded: Detector | null = null;
  private current: Promise<void> = Promise.resolve();
  state: RecipeState = 'ok';
  /** The detector the station was built with (owned by the composition root). */
  private readonly baseDetector: Detector;
  /** Why the state is not ok, for logs and the status screen. */
  problem: string | null = null;

  constructor(
    private readonly station: Station,
    private readonly stationCfg: StationConfig,
    private readonly recipes: Record<string, PlcRecipeConfig>,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {
    this.baseDetector = station.detector;
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
    const base = this.baseDetector;
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
      const detector = recipe.modelPath ? await Detector.load({ ...this.stationCfg.model, path: resolve(recipe.modelPath) }, this.log) : null;
      if (key !== this.wanted) {
        await detector?.close();
        return;
      }
      const model = detector ?? base;
      const policy = { ...this.stationCfg.policy, passBelow: recipe.passBelow ?? this.stationCfg.policy.passBelow, failAtOrAbove: recipe.failAtOrAbove ?? this.stationCfg.policy.failAtOrAbove };
      this.switchTo(model, resolveThresholds(policy, model.manifest.thresholds), detector, key);
    } catch (err) {
      this.set('failed', `recipe ${key} cannot be loaded: ${errorMessage(err)}`);
      this.log.error({ code: isLoupeError(err) ? err.code : 'LOUPE_ERR_PLC_RECIPE', recipe: key }, this.problem ?? '');
    }
  }

  private switchTo(detector: Detector, thresholds: ReturnType<typeof resolveThresholds>, owned: Detector | null, key: string): void {
    const base = this.baseDetector;
    const previous = this.station.switchModel(detector, thresholds);
    const previouslyOwned = this.loaded;
    this.loaded = owned;
    if (previouslyOwned && previouslyOwned !== owned && previous !== base) void this.closeWhenIdle(previouslyOwned);
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
      const base = this.baseDetector;
      this.station.switchModel(base, resolveThresholds(this.stationCfg.policy, base.manifest.thresholds));
      await this.closeWhenIdle(d, 10_000);
    }
  }
}
