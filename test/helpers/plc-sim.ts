import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { applicationUri, clientCertificateFile, ensureClientCertificate, openPki } from '../../gateway/src/plc/security.js';
import { PlcSimulator, type SimulatorOptions } from '../../gateway/src/plc/simulator.js';
import { routeStackLogs } from '../../gateway/src/plc/stack-log.js';

/**
 * A simulated PLC on a free loopback port, quick to start (minimal address
 * space), fast scan and heartbeat so tests need not wait long.
 */
export async function startTestSim(dir: string, log: Logger, over: Partial<SimulatorOptions> = {}): Promise<PlcSimulator> {
  await routeStackLogs(log);
  const sim = new PlcSimulator({
    host: '127.0.0.1',
    port: 0,
    partsPerMin: 300,
    cycleMs: 5,
    heartbeatMs: 100,
    partIdPrefix: 'P',
    resultTimeoutMs: 5000,
    finalTimeoutMs: 30_000,
    securityModes: ['None'],
    pkiDir: join(dir, 'pki-sim'),
    username: '',
    password: '',
    addressSpace: 'minimal',
    loupeTimeoutMs: 1500,
    log: log.child({ component: 'plc-sim' }),
    ...over,
  });
  await sim.start();
  return sim;
}

/**
 * Make the certificates a commissioning engineer would exchange: Loupe's
 * client certificate (as the gateway creates it) and the simulated PLC's
 * server certificate (by starting it once). `trust` says which side gets the
 * other's certificate in its trusted/certs folder, as a file copy.
 */
export async function exchangeCertificates(
  log: Logger,
  o: { clientPki: string; simPki: string; gatewayId: string; trust: { plcTrustsLoupe: boolean; loupeTrustsPlc: boolean } },
): Promise<void> {
  const cm = await openPki(o.clientPki, false);
  await ensureClientCertificate(cm, o.clientPki, o.gatewayId, applicationUri('client', o.gatewayId));
  await cm.dispose();
  const once = await startTestSim(o.simPki, log, { securityModes: ['SignAndEncrypt'], pkiDir: o.simPki, runLine: false });
  await once.stop();
  const simCerts = join(o.simPki, 'own', 'certs');
  const simCert = readdirSync(simCerts).find((f) => f.endsWith('.pem'));
  if (!simCert) throw new Error(`the simulator made no certificate in ${simCerts}`);
  if (o.trust.loupeTrustsPlc) {
    mkdirSync(join(o.clientPki, 'trusted', 'certs'), { recursive: true });
    copyFileSync(join(simCerts, simCert), join(o.clientPki, 'trusted', 'certs', 'plc-sim.pem'));
  }
  if (o.trust.plcTrustsLoupe) {
    mkdirSync(join(o.simPki, 'trusted', 'certs'), { recursive: true });
    copyFileSync(clientCertificateFile(o.clientPki), join(o.simPki, 'trusted', 'certs', 'loupe.pem'));
  }
}
