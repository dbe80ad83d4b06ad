import type { Logger } from 'pino';
import type { OperatorAuth } from '../auth/operator-auth.js';
import type { HmiConfig } from '../config/sections/hmi.js';
import type { ShiftsConfig } from '../config/sections/shifts.js';
import type { Station } from '../inspect/station.js';
import type { Metrics } from '../metrics.js';
import type { ModelLifecycle } from '../model-registry/lifecycle.js';
import type { ReviewQueue } from '../review/review-queue.js';
import type { Store } from '../store/store.js';

/** A link the gateway depends on, as health and the HMI status show it. */
export interface LinkStatus {
  name: string;
  state: 'ok' | 'degraded' | 'down' | 'disabled';
  detail: string | null;
}

/** What the HTTP routes may use: handed over by the composition root, nothing global. */
export interface ApiContext {
  stations: ReadonlyMap<string, Station>;
  store: Store;
  review: ReviewQueue;
  metrics: Metrics;
  log: Logger;
  /** Links beyond the stations (PLC, uplink), registered by the parts that own them. */
  links: () => LinkStatus[];
  /** False while starting or stopping: /readyz answers 503. */
  ready: () => boolean;
  /** The operator HMI: logins, its settings and where its page is built. */
  hmi: HmiContext;
  /** The engineer API: shifts and the plant's time zone for statistics and exports. */
  engineer: { shifts: ShiftsConfig; maxConcurrentExports: number };
  /** Model packages, shadow runs, promotion and rollback; uploads may be up to `maxPackageBytes`. */
  models: { lifecycle: ModelLifecycle; maxPackageBytes: number };
}

export interface HmiContext {
  auth: OperatorAuth;
  config: HmiConfig;
  /** Folder of the built page (index.html + assets). */
  distDir: string;
  /** Plant ids shown on the status screen. */
  origin: { site: string; line: string; gatewayId: string };
}
