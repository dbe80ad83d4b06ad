import type { OPCUACertificateManager } from 'node-opcua';
import type { LinkStatus } from '../api/context.js';
import { errorMessage } from '../errors.js';
import { Handshake } from './handshake.js';
import { blockNodeIds } from './interface-block.js';
import { PlcConnection } from './plc-connection.js';
import type { PlcDeps, PlcLink, WiredBlock } from './plc-link.js';
import { fixedOwnModel, RecipeSwitcher } from './recipes.js';
import { applicationUri, ensureClientCertificate, openPki } from './security.js';
import { PlcSimulator } from './simulator.js';
import { StationControl } from './station-control.js';
import { VisionServer } from './vision-server.js';

/** Everything plc-link starts, built here so the OPC UA stack loads only when used. */
export interface PlcRuntime extends PlcLink {
  simulator: PlcSimulator | null;
  connection: PlcConnection | null;
  handshakes: ReadonlyMap<string, Handshake>;
  server: VisionServer | null;
  controls: ReadonlyMap<string, StationControl>;
}

export async function startPlcRuntime(deps: PlcDeps, blocks: WiredBlock[]): Promise<PlcRuntime> {
  const { cfg, log } = deps;
  const cleanups: (() => Promise<void> | void)[] = [];
  const links: LinkStatus[] = [];
  const controls = new Map([...deps.stations.keys()].map((id) => [id, new StationControl()]));
  const handshakes = new Map<string, Handshake>();
  let simulator: PlcSimulator | null = null;
  let connection: PlcConnection | null = null;
  let server: VisionServer | null = null;

  const stop = async () => {
    for (const c of cleanups.splice(0)) {
      try {
        await c();
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'error while stopping the PLC link');
      }
    }
  };

  try {
    if (cfg.simulator.enabled) {
      const sim = new PlcSimulator({ ...cfg.simulator, log: log.child({ component: 'plc-sim' }) });
      await sim.start();
      simulator = sim;
      cleanups.unshift(async () => {
        const s = await sim.stop();
        log.info({ arrived: s.partsArrived, sent: s.triggered, notSent: s.notTriggered, diverted: s.diverted, latencyP50Ms: s.latency.p50Ms, latencyP99Ms: s.latency.p99Ms, mismatched: s.mismatched }, 'PLC simulator stopped');
      });
    }

    // The server loads its address space first: that blocks the event loop for a moment, better before the handshake runs.
    if (cfg.server.enabled) {
      const vs = await VisionServer.start({
        cfg: cfg.server,
        pkiDir: cfg.server.pkiDir,
        gatewayId: deps.gatewayId,
        stations: deps.stations,
        controls,
        review: deps.review,
        store: deps.store,
        log: log.child({ component: 'opcua-server' }),
      });
      server = vs;
      const link: LinkStatus = { name: 'opcua-server', state: 'ok', detail: vs.endpointUrl };
      links.push(link);
      const t = setInterval(() => (link.detail = `${vs.endpointUrl} (${vs.sessions} session${vs.sessions === 1 ? '' : 's'})`), 1000);
      t.unref();
      cleanups.unshift(async () => {
        clearInterval(t);
        await vs.stop();
        link.state = 'down';
        link.detail = 'stopped';
      });
    }
    if (cfg.client.enabled) {
      const c = cfg.client;
      const endpoint = simulator ? simulator.endpointUrl : c.endpoint;
      const pkiDir = c.pkiDir;
      const pki: OPCUACertificateManager = await openPki(pkiDir, c.acceptUnknownCertificates);
      cleanups.unshift(() => pki.dispose());
      const appUri = applicationUri('client', deps.gatewayId);
      const certFile = await ensureClientCertificate(pki, pkiDir, deps.gatewayId, appUri);
      if (c.securityMode !== 'None') log.info({ certificate: certFile, applicationUri: appUri }, `Loupe's certificate for the PLC's trust list: ${certFile}`);
      const conn = new PlcConnection({
        cfg: c,
        endpoint,
        blocks: blocks.map((b) => ({ station: b.station, nodeIds: blockNodeIds(b.block), namespaceUri: b.block.namespaceUri })),
        pki,
        pkiDir,
        applicationName: deps.gatewayId,
        applicationUri: appUri,
        log: log.child({ component: 'plc-client' }),
      });
      connection = conn;
      const link: LinkStatus = { name: 'plc', state: 'down', detail: `connecting to ${endpoint}` };
      links.push(link);
      const recipeSwitchers: RecipeSwitcher[] = [];
      blocks.forEach((b, index) => {
        const station = deps.stations.get(b.station);
        const stationCfg = deps.stationConfigs.find((s) => s.id === b.station);
        if (!station || !stationCfg) return;
        const slog = log.child({ component: 'plc-handshake', station: b.station });
        let hs: Handshake | null = null;
        const recipes = Object.keys(b.block.recipes).length > 0 ? new RecipeSwitcher(station, stationCfg, b.block.recipes, deps.ownModels?.get(b.station) ?? fixedOwnModel(station.detector), slog, () => hs?.updateReady()) : null;
        if (recipes) recipeSwitchers.push(recipes);
        hs = new Handshake({ block: index, conn, station, review: deps.review, cfg: c, recipes, control: controls.get(b.station) ?? null, metrics: deps.metrics, log: slog });
        handshakes.set(b.station, hs);
      });
      const describe = () => {
        const where = simulator ? `simulated PLC at ${endpoint}` : endpoint;
        if (!conn.isUp) {
          link.state = 'down';
          link.detail = `${where}: ${conn.lastError?.message ?? 'connecting'}`;
          return;
        }
        const notReady = [...handshakes.entries()].filter(([, h]) => !h.ready.ready).map(([id, h]) => `${id}: ${h.ready.reason ?? 'not ready'}`);
        link.state = notReady.length === 0 ? 'ok' : 'degraded';
        link.detail = notReady.length === 0 ? `${where}: ready` : `${where}: ${notReady.join('; ')}`;
      };
      conn.on('up', () => {
        deps.metrics.plcLinkUp.set(1);
        describe();
      });
      conn.on('down', () => {
        deps.metrics.plcLinkUp.set(0);
        describe();
      });
      for (const hs of handshakes.values()) {
        hs.on('ready', describe);
        hs.start();
      }
      // Reflect connect errors (wrong password, untrusted certificate) on the status screen.
      const statusTimer = setInterval(describe, 1000);
      statusTimer.unref();
      conn.start();
      cleanups.unshift(async () => {
        clearInterval(statusTimer);
        await Promise.all([...handshakes.values()].map((h) => h.stop(deps.shutdownGraceMs)));
        await conn.stop();
        deps.metrics.plcLinkUp.set(0);
        for (const r of recipeSwitchers) await r.close();
        link.state = 'down';
        link.detail = 'stopped';
      });
    }

  } catch (err) {
    await stop();
    throw err;
  }

  return { links, stop, simulator, connection, handshakes, server, controls };
}
