import { timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import { nodesets, OPCUAServer, type OPCUACertificateManager } from 'node-opcua';
import type { Logger } from 'pino';
import type { PlcServerConfig } from '../config/sections/plc.js';
import { errorMessage, LoupeError } from '../errors.js';
import type { Station } from '../inspect/station.js';
import type { ReviewQueue } from '../review/review-queue.js';
import type { Store } from '../store/store.js';
import { applicationUri, openPki, securityModeOf, securityPolicyOf } from './security.js';
import type { StationControl } from './station-control.js';
import { addVisionTypes, VISION_NAMESPACE_URI, VisionSystem } from './vision-system.js';

export interface VisionServerDeps {
  cfg: PlcServerConfig;
  /** PKI folder, resolved. */
  pkiDir: string;
  gatewayId: string;
  stations: ReadonlyMap<string, Station>;
  controls: ReadonlyMap<string, StationControl>;
  review: ReviewQueue;
  store: Store;
  log: Logger;
}

/**
 * Loupe's own OPC UA server, for PLCs, SCADA and MES that would rather read
 * from the vision system than be written to: one vision system object per
 * station (see vision-system.ts), with the same security options as the client.
 */
export class VisionServer {
  private constructor(
    private readonly server: OPCUAServer,
    private readonly pki: OPCUACertificateManager,
    private readonly systems: VisionSystem[],
    private readonly log: Logger,
  ) {}

  static async start(deps: VisionServerDeps): Promise<VisionServer> {
    const { cfg, log } = deps;
    const pki = await openPki(deps.pkiDir, cfg.acceptUnknownCertificates);
    const policies = cfg.securityModes.flatMap((m) => (m === 'None' ? [securityPolicyOf('None', 'Basic256Sha256')] : cfg.securityPolicies.map((p) => securityPolicyOf(m, p))));
    const expected = Buffer.from(cfg.password);
    const server = new OPCUAServer({
      port: cfg.port,
      host: cfg.host,
      hostname: cfg.host === '0.0.0.0' || cfg.host === '::' ? hostname() : cfg.host,
      nodeset_filename: [nodesets.standard],
      serverCertificateManager: pki,
      securityModes: cfg.securityModes.map(securityModeOf),
      securityPolicies: [...new Set(policies)],
      allowAnonymous: cfg.allowAnonymous,
      userManager: {
        isValidUser: (user: string, password: string) => {
          const given = Buffer.from(password);
          return cfg.password !== '' && user === cfg.username && given.length === expected.length && timingSafeEqual(given, expected);
        },
      },
      maxAllowedSessionNumber: cfg.maxSessions,
      serverInfo: { applicationUri: applicationUri('server', deps.gatewayId), productUri: 'urn:loupe', applicationName: { text: `Loupe ${deps.gatewayId}` } },
      buildInfo: { productName: 'Loupe vision system', manufacturerName: 'Loupe' },
    });
    const systems: VisionSystem[] = [];
    try {
      await server.initialize();
      const addressSpace = server.engine.addressSpace;
      if (!addressSpace) throw new Error('address space not ready');
      const ns = addressSpace.registerNamespace(VISION_NAMESPACE_URI);
      const types = addVisionTypes(ns);
      const folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'VisionSystems', nodeId: `ns=${ns.index};s=VisionSystems` });
      for (const station of deps.stations.values()) {
        const control = deps.controls.get(station.id);
        if (!control) continue;
        systems.push(
          new VisionSystem({
            types,
            parent: folder,
            server: addressSpace.rootFolder.objects.server,
            station,
            control,
            review: deps.review,
            store: deps.store,
            requireUser: cfg.password !== '',
            log: log.child({ station: station.id }),
          }),
        );
      }
      await server.start();
    } catch (err) {
      for (const s of systems) s.close();
      await server.shutdown(0).catch(() => undefined);
      await pki.dispose();
      throw new LoupeError('LOUPE_ERR_PLC_SERVER', `OPC UA server cannot listen on ${cfg.host}:${cfg.port}: ${errorMessage(err)} (plc.server.port)`, { cause: err });
    }
    const vs = new VisionServer(server, pki, systems, log);
    log.info(
      { endpoint: vs.endpointUrl, securityModes: cfg.securityModes, anonymous: cfg.allowAnonymous, stations: [...deps.stations.keys()] },
      `OPC UA server at ${vs.endpointUrl} (${cfg.securityModes.join(', ')}; namespace ${VISION_NAMESPACE_URI})`,
    );
    if (cfg.securityModes.includes('None') && !['127.0.0.1', '::1', 'localhost'].includes(cfg.host)) {
      log.warn('the OPC UA server offers security mode None on the network: anyone on it can read results and, without a password, halt stations');
    }
    return vs;
  }

  get endpointUrl(): string {
    return this.server.getEndpointUrl();
  }

  get sessions(): number {
    return this.server.currentSessionCount;
  }

  async stop(): Promise<void> {
    for (const s of this.systems) s.close();
    await this.server.shutdown(0);
    await this.pki.dispose();
    this.log.info('OPC UA server stopped');
  }
}
