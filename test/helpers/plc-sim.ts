import { join } from 'node:path';
import type { Logger } from 'pino';
import { PlcSimulator, type SimulatorOptions } from '../../gateway/src/plc/simulator.js';

/**
 * A simulated PLC on a free loopback port, quick to start (minimal address
 * space), fast scan and heartbeat so tests need not wait long.
 */
export async function startTestSim(dir: string, log: Logger, over: Partial<SimulatorOptions> = {}): Promise<PlcSimulator> {
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

/** PEM file contents to the DER bytes a certificate manager trusts. */
export function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64');
}
