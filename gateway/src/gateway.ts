import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildServer } from './api/server.js';
import type { LinkStatus } from './api/context.js';
import { DEMO_USERS } from './auth/demo-users.js';
import { OperatorAuth } from './auth/operator-auth.js';
import { createFrameSource } from './camera/registry.js';
import { packageRoot } from './cli/paths.js';
import type { LoupeConfig } from './config/schema.js';
import { errorMessage } from './errors.js';
import { resolveThresholds } from './inspect/policy.js';
import { Station } from './inspect/station.js';
import { Metrics } from './metrics.js';
import { ModelLifecycle } from './model-registry/lifecycle.js';
import { ModelRegistry } from './model-registry/registry.js';
import { loadStartupModel, StationModels } from './model-registry/station-models.js';
import { startPlc } from './plc/plc-link.js';
import { ReviewQueue } from './review/review-queue.js';
import { pruneImages } from './store/images.js';
import { ModelRegistryRepo } from './store/model-registry.js';
import { SessionRepo } from './store/sessions.js';
import { ShadowResultRepo } from './store/shadow-results.js';
import { openStore, type Store } from './store/store.js';
import { ShadowManager } from './shadow/shadow-manager.js';
import { UserRepo } from './store/users.js';
import { correctionPayload } from './uplink/correction-payload.js';
import { ModelDelivery } from './uplink/model-delivery.js';
import { Uplink } from './uplink/uplink.js';

export interface Gateway {
  stations: ReadonlyMap<string, Station>;
  store: Store;
  review: ReviewQueue;
  metrics: Metrics;
  /** Corrections uplink: `status()` for the HMI and API. */
  uplink: Uplink;
  /** Model registry, shadow runs, promotion and rollback per station. */
  models: ModelLifecycle;
  /** Model packages over MQTT; null with models.delivery.enabled false. */
  modelDelivery: ModelDelivery | null;
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
    // Packages under the data dir; a station starts on the one last promoted there, else on its configured model.
    const maxPackageBytes = cfg.models.maxPackageMb * 1024 * 1024;
    const registryRepo = new ModelRegistryRepo(store.db);
    const registry = new ModelRegistry(cfg.models.registryDir, { repo: registryRepo, maxPackageBytes, metrics, log: log.child({ component: 'models' }) });
    await registry.open();
    const stations = new Map<string, Station>();
    const stationModels = new Map<string, StationModels>();
    for (const s of cfg.stations) {
      const slog = log.child({ station: s.id });
      const startup = await loadStartupModel(s, registry, slog);
      const detector = startup.detector;
      cleanups.unshift(() => detector.close());
      const source = createFrameSource(s.camera, { log: slog.child({ component: 'camera' }) });
      const thresholds = resolveThresholds(s.policy, detector.manifest.thresholds);
      const station = new Station(s, { source, detector, thresholds, store, metrics, log: slog });
      stations.set(s.id, station);
      stationModels.set(s.id, new StationModels(station, s, startup, { registry, metrics, log: slog.child({ component: 'models' }) }));
    }
    const shadowRepo = new ShadowResultRepo(store.db);
    const shadows = new ShadowManager({ repo: shadowRepo, registry, cfg: cfg.models.shadow, metrics, log: log.child({ component: 'shadow' }) });
    await shadows.resumeLeftovers(new Map([...stationModels].map(([id, sm]) => [id, { station: sm.station, cfg: sm.cfg }])));
    const models = new ModelLifecycle({ registry, shadows, shadowRepo, stations: stationModels, cfg: cfg.models, log: log.child({ component: 'models' }) });
    // After the stations stopped (their stop is registered later, so it runs first).
    cleanups.unshift(() => models.stop());

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

    const auth = new OperatorAuth({
      users: new UserRepo(store.db),
      sessions: new SessionRepo(store.db),
      policy: {
        lockoutAttempts: cfg.hmi.lockoutAttempts,
        lockoutMs: cfg.hmi.lockoutMinutes * 60_000,
        idleLockMs: cfg.hmi.idleLockMinutes * 60_000,
        sessionMs: cfg.hmi.sessionHours * 3_600_000,
      },
      log: log.child({ component: 'auth' }),
    });
    await seedDemoUsers(auth, cfg.hmi.seedDemoUsers, log);
    const hmi = {
      auth,
      config: cfg.hmi,
      distDir: cfg.hmi.distDir ?? join(packageRoot(), 'hmi', 'dist'),
      origin,
    };

    const links: LinkStatus[] = [];
    const server = await buildServer({ stations, store, review, metrics, log, links: () => links, ready: () => ready, hmi, engineer: { shifts: cfg.shifts, maxConcurrentExports: cfg.http.maxConcurrentExports }, models: { lifecycle: models, maxPackageBytes } });
    await server.listen({ host: cfg.http.host, port: cfg.http.port });
    cleanups.unshift(() => server.close());
    const address = server.server.address();
    const port = typeof address === 'object' && address ? address.port : cfg.http.port;
    const url = `http://${cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host}:${port}`;

    // Stops after the stations (their last parts may be sampled) and before the store closes.
    const modelDelivery = cfg.models.delivery.enabled
      ? new ModelDelivery(
          { ...cfg.models.delivery, maxPackageBytes },
          {
            topics: { root: cfg.uplink.topicRoot, site: origin.site, line: origin.line },
            stations: [...stations.keys()],
            incomingDir: join(registry.dir, '.incoming'),
            repo: registryRepo,
            register: (p) => models.register(p),
            metrics,
            log: log.child({ component: 'model-delivery' }),
          },
        )
      : null;
    if (modelDelivery) {
      // Deliveries a previous run received but did not judge are judged now, beside the line.
      const delivery = modelDelivery;
      void delivery.resume().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'unfinished model deliveries could not be resumed'));
      cleanups.unshift(() => Promise.race([delivery.idle(), new Promise<void>((r) => setTimeout(r, cfg.gateway.shutdownGraceMs).unref())]));
    }
    const uplink = new Uplink(cfg.uplink, { origin, stations: [...stations.keys()], store, metrics, log: log.child({ component: 'uplink' }), publicUrl: () => url, ...(modelDelivery ? { inbound: modelDelivery } : {}) });
    links.push(uplink.linkStatus());
    review.on('settled', () => uplink.wake());
    for (const station of stations.values()) station.on('inspected', (i) => uplink.sample(i));
    uplink.start();
    cleanups.unshift(() => uplink.stop());

    for (const station of stations.values()) {
      await station.start();
      cleanups.unshift(() => station.stop(cfg.gateway.shutdownGraceMs));
    }

    // PLC handshake, OPC UA server, simulator: after the stations run, stopped before them (Ready drops first).
    const plc = await startPlc({ cfg: cfg.plc, stationConfigs: cfg.stations, stations, ownModels: stationModels, review, store, metrics, log: log.child({ component: 'plc' }), gatewayId: cfg.gateway.id, shutdownGraceMs: cfg.gateway.shutdownGraceMs });
    cleanups.unshift(() => plc.stop());
    links.push(...plc.links);

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
      uplink,
      models,
      modelDelivery,
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

/**
 * First start: an admin and a demo operator so the demo works at once. Their
 * PINs are public, so every start warns while they still work.
 */
async function seedDemoUsers(auth: OperatorAuth, enabled: boolean, log: Logger): Promise<void> {
  const created = enabled ? await auth.seed(DEMO_USERS) : [];
  const active = [];
  for (const u of DEMO_USERS) if (created.includes(u.id) || (await auth.hasPin(u.id, u.pin))) active.push(u);
  if (active.length === 0) return;
  log.warn(
    { operators: active.map((u) => u.id) },
    `${created.length > 0 ? 'created ' : ''}demo HMI logins with published PINs: ${active.map((u) => `${u.id} (${u.role}) PIN ${u.pin}`).join(', ')}; ` +
      'change them with `loupe users reset-pin ID` or add your own people with `loupe users add`',
  );
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
