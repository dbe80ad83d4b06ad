import { afterEach } from 'vitest';
import { parseConfig } from '../../gateway/src/config/load.js';
import type { LoupeConfigInput } from '../../gateway/src/config/schema.js';
import { wirePlc } from '../../gateway/src/plc/plc-link.js';
import { startPlcRuntime, type PlcRuntime } from '../../gateway/src/plc/plc-runtime.js';
import type { PlcSimulator } from '../../gateway/src/plc/simulator.js';
import { routeStackLogs } from '../../gateway/src/plc/stack-log.js';
import type { PlcTestLine } from './plc-line.js';
import { expectNoOpenSockets } from './plc-leaks.js';

type PlcInput = NonNullable<LoupeConfigInput['plc']>;
type ClientInput = NonNullable<PlcInput['client']>;

/** Test defaults for the client: fast publishing, short heartbeats and reconnect delays. */
export const FAST_CLIENT: ClientInput = {
  enabled: true,
  securityMode: 'None',
  publishingIntervalMs: 20,
  samplingIntervalMs: 10,
  heartbeatMs: 100,
  plcHeartbeatTimeoutMs: 600,
  keepAliveMs: 500,
  requestTimeoutMs: 2000,
  reconnect: { minDelayMs: 200, maxDelayMs: 1000, repairTimeoutMs: 8000 },
};

/**
 * Loupe's PLC side for a test line, built by the same composition code the
 * gateway runs (config schema, wiring check, runtime), pointed at `endpoint`.
 */
export async function startLoupePlc(line: PlcTestLine, plc: { client?: ClientInput; server?: PlcInput['server']; endpoint?: string }): Promise<PlcRuntime> {
  const cfg = parseConfig(
    {
      gateway: { id: 'loupe-plc-test', dataDir: line.dir },
      stations: [line.stationCfg as never],
      plc: {
        client: plc.endpoint ? { ...FAST_CLIENT, ...plc.client, endpoint: plc.endpoint } : { enabled: false },
        server: plc.server ?? { enabled: false },
      },
    },
    '(plc test)',
  );
  const blocks = wirePlc(cfg.plc, cfg.stations);
  await routeStackLogs(line.log);
  return startPlcRuntime(
    {
      cfg: cfg.plc,
      stationConfigs: cfg.stations,
      stations: new Map([[line.station.id, line.station]]),
      review: line.review,
      store: line.store,
      metrics: line.metrics,
      log: line.log.child({ component: 'plc' }),
      gatewayId: 'loupe-plc-test',
      shutdownGraceMs: 2000,
    },
    blocks,
  );
}

/** Poll `check` until it returns something truthy, at most `timeoutMs`; the error says what was awaited and the last state. */
export async function waitUntil<T>(what: string, check: () => T | undefined | false | null, timeoutMs = 10_000, state?: () => unknown): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state ? `; state: ${JSON.stringify(state())}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a PLC test started: a line, a simulated PLC, Loupe's PLC runtime. */
export interface PlcRig {
  line: PlcTestLine | null;
  sim: PlcSimulator | null;
  loupe: PlcRuntime | null;
}

/**
 * Holds what each test of a file starts and stops it after the test, in
 * reverse order, then checks that no socket stayed open.
 */
export function plcRigPerTest(): PlcRig {
  const rig: PlcRig = { line: null, sim: null, loupe: null };
  afterEach(async () => {
    await rig.loupe?.stop();
    await rig.sim?.stop();
    await rig.line?.close();
    rig.loupe = null;
    rig.sim = null;
    rig.line = null;
    await expectNoOpenSockets();
  });
  return rig;
}
