import type { Logger } from 'pino';
import type { Station } from '../inspect/station.js';
import type { Metrics } from '../metrics.js';
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
}
