import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../../gateway/src/config/load.js';
import type { LoupeConfig, LoupeConfigInput } from '../../gateway/src/config/schema.js';
import { startGateway, type Gateway } from '../../gateway/src/gateway.js';
import type { Inspection } from '../../gateway/src/inspect/inspection.js';

/** One station as a config file writes it (defaults filled in by the schema). */
export type StationInput = NonNullable<LoupeConfigInput['stations']>[number];

/** The model package the gateway ships (a real ONNX model, small enough for CPU tests). */
export const DEMO_MODEL = fileURLToPath(new URL('../../models/demo-part', import.meta.url));

export interface HarnessOptions {
  /** Config sections to use instead of the test defaults (`gateway.dataDir` and `http` are filled in). */
  config?: LoupeConfigInput;
  /** Reuse a data dir (restart tests); default a fresh temp dir, removed by `cleanup()`. */
  dataDir?: string;
  /** Default 0 (a free port). */
  port?: number;
}

export interface TestGateway {
  gateway: Gateway;
  cfg: LoupeConfig;
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  dataDir: string;
  /** Stop the gateway (idempotent); the data dir stays. */
  stop(): Promise<void>;
  /** Stop, then start again on the same port with the same data dir and config. */
  restart(): Promise<TestGateway>;
  /** Stop and delete the data dir. */
  cleanup(): Promise<void>;
}

/**
 * A station whose parts all go to review: triggered only through the API
 * (`POST /api/stations/:id/trigger`), with an uncertain band covering every score.
 */
export function reviewStation(id = 'station-1', over: Partial<StationInput> = {}): StationInput {
  return {
    id,
    name: `Test ${id}`,
    camera: { type: 'synthetic', seed: 7, defectRate: 0.5 },
    trigger: { type: 'api' },
    model: { path: DEMO_MODEL, providers: ['cpu'], warmupRuns: 0, intraOpThreads: 1 },
    policy: { passBelow: 0, failAtOrAbove: 1, auditRate: 0 },
    review: { timeoutMs: 120_000, safeVerdict: 'fail' },
    ...over,
  };
}

/**
 * Start a real gateway (synthetic camera, the demo model on CPU, SQLite in a
 * temp dir) on a loopback port. Logs are silent unless LOUPE_TEST_LOG names a level.
 */
export async function startTestGateway(opts: HarnessOptions = {}): Promise<TestGateway> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'loupe-test-'));
  const over = opts.config ?? {};
  const input: LoupeConfigInput = {
    ...over,
    gateway: { id: 'loupe-test', shutdownGraceMs: 2000, ...over.gateway, dataDir },
    http: { host: '127.0.0.1', port: opts.port ?? 0 },
    log: { level: 'warn', pretty: 'never', ...over.log },
    store: { synchronous: 'normal', fsyncImages: false, minFreeDiskMb: 0, ...over.store },
    stations: over.stations ?? [reviewStation()],
  };
  const cfg = parseConfig(input, '(test harness)');
  const log = pino({ level: process.env.LOUPE_TEST_LOG ?? 'silent' });
  const gateway = await startGateway(cfg, log);
  const port = Number(new URL(gateway.url).port);
  let stopped = false;
  const self: TestGateway = {
    gateway,
    cfg,
    url: gateway.url,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await gateway.stop();
    },
    async restart() {
      await self.stop();
      return startTestGateway({ ...opts, dataDir, port });
    },
    async cleanup() {
      await self.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return self;
}

/**
 * Trigger one part on a station, as `POST /api/stations/:id/trigger` does,
 * and return its committed inspection. In-process, so it needs no API
 * credentials (that route wants an engineer session or an admin token).
 */
export async function triggerPart(gw: TestGateway, station = 'station-1', partId?: string): Promise<Inspection> {
  const s = gw.gateway.stations.get(station);
  if (!s) throw new Error(`no station ${station} in the test gateway`);
  return s.trigger(partId === undefined ? { via: 'api' } : { via: 'api', partId });
}

/**
 * Log in through the API and return the `cookie` header value, for tests
 * that call the HMI routes over real HTTP.
 */
export async function loginCookie(url: string, operatorId: string, pin: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ operatorId, pin }) });
  if (!res.ok) throw new Error(`login ${operatorId}: HTTP ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('login answered without a session cookie');
  return cookie;
}

/** `hmi.shiftStarts` for a shift that began an hour ago, so no shift boundary falls inside a test. */
export function shiftStartedAnHourAgo(): string[] {
  const d = new Date(Date.now() - 3_600_000);
  return [`${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`];
}

/** Poll `check` until it returns a value that is not undefined/false, at most `timeoutMs`. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
