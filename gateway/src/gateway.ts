import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildServer } from './api/server.js';
import type { LinkStatus } from './api/context.js';
import { createFrameSource } from './camera/registry.js';
import type { LoupeConfig } from './config/schema.js';
import { errorMessage } from './errors.js';
import { resolveThresholds } from './inspect/policy.js';
import { Station } from './inspect/station.js';
import { Metrics } from './metrics.js';
import { ReviewQueue } from './review/review-queue.js';
import { pruneImages } from './store/images.js';
import { openStore, type Store } from './store/store.js';
import { correctionPayload } from './uplink/correction-payload.js';
import { Detector } from './vision/detector.js';

export interface Gateway {
  stations: ReadonlyMap<string, Station>;
  store: Store;
  review: ReviewQueue;
  metrics: Metrics;
  server: FastifyInstance;
  /** Base URL the HMI and API answer on. */
  url: string;
  stop(): Promise<void>;
}

/**
 * The composition root: builds every part from the validated config and
 * wires them together. Nothing else reads config or creates shared parts.
 */
export async function startGateway(cfg: LoupeConfig, log: Logger): Promise<Gateway> {
  const metrics = new Metrics();
  const store = openStore(cfg.store, log.child({ component: 'store' }));
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  let ready = false;
  try {
    const stations = new Map<string, Station>();
    for (const s of cfg.stations) {
      const slog = log.child({ station: s.id });
      const detector = await Detector.load(s.model, slog);
      cleanups.unshift(() => detector.close());
      const source = createFrameSource(s.camera, { log: slog.child({ component: 'camera' }) });
      const thresholds = resolveThresholds(s.policy, detector.manifest.thresholds);
      stations.set(s.id, new Station(s, { source, detector, thresholds, store, metrics, log: slog }));
    }

    const origin = { site: cfg.gateway.site, line: cfg.gateway.line, gatewayId: cfg.gateway.id };
    const review = new ReviewQueue({
      store,
      stations: new Map(
        cfg.stations.map((s) => {
          const station = stations.get(s.id);
          const labels = () => {
            const m = station?.detector.manifest;
            return m ? m.labels.filter((l) => l !== m.goodLabel) : [];
          };
          return [s.id, { review: s.review, defectLabels: labels }];
        }),
      ),
      buildCorrection: (i, d) => ({ messageId: d.id, payload: correctionPayload(origin, i, d) }),
      metrics,
      log: log.child({ component: 'review' }),
    });
    for (const station of stations.values()) station.on('inspected', (i) => review.add(i));
    review.start();
    cleanups.unshift(() => review.stop());

    const links: LinkStatus[] = [];
    const server = await buildServer({ stations, store, review, metrics, log, links: () => links, ready: () => ready });
    await server.listen({ host: cfg.http.host, port: cfg.http.port });
    cleanups.unshift(() => server.close());
    const address = server.server.address();
    const port = typeof address === 'object' && address ? address.port : cfg.http.port;
    const url = `http://${cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host}:${port}`;

    for (const station of stations.values()) {
      await station.start();
      cleanups.unshift(() => station.stop(cfg.gateway.shutdownGraceMs));
    }

    const retention = setInterval(() => {
      pruneImages(store.images, store.inspections, { maxBytes: cfg.store.maxDiskMb * 1024 * 1024, maxAgeMs: cfg.store.maxAgeDays * 86_400_000, now: Date.now() }, log)
        .then((r) => metrics.imagesPruned.inc(r.deleted))
        .catch((err: unknown) => log.error({ err: errorMessage(err) }, 'image retention failed'));
    }, cfg.store.retentionIntervalMs);
    retention.unref();
    cleanups.unshift(() => clearInterval(retention));

    ready = true;
    log.info({ url, api: `${url}/api/docs`, stations: [...stations.keys()] }, `Loupe is running: HMI and API at ${url} (API docs ${url}/api/docs)`);

    let stopping: Promise<void> | null = null;
    return {
      stations,
      store,
      review,
      metrics,
      server,
      url,
      stop() {
        stopping ??= (async () => {
          ready = false;
          log.info('stopping: finishing parts in flight');
          await runCleanups(cleanups, log);
          log.info('stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await runCleanups(cleanups, log);
    throw err;
  }
}

/** Undo in reverse order of start; one failing step does not keep the others (and the store) open. */
async function runCleanups(cleanups: (() => Promise<void> | void)[], log: Logger): Promise<void> {
  for (const c of cleanups) {
    try {
      await c();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'error while stopping');
    }
  }
}
