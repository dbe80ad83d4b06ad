import type { LoupeConfigInput } from '../../../gateway/src/config/schema.js';
import { startGateway, type Gateway } from '../../../gateway/src/gateway.js';
import { fillStore, type FilledPart } from '../../helpers/filled-store.js';
import { silentLog, tempDir, testConfig } from '../../helpers/test-config.js';

/** A real gateway on a store filled with three days of production (see test/helpers/filled-store.ts). */
export interface FilledGateway {
  gateway: Gateway;
  url: string;
  parts: FilledPart[];
  /** Admin session cookie of the seeded demo admin. */
  adminCookie: string;
  /** An admin API token made through the API. */
  adminToken: string;
  close(): Promise<void>;
}

export async function startFilledGateway(prefix: string, extra: LoupeConfigInput = {}): Promise<FilledGateway> {
  const tmp = tempDir(prefix);
  try {
    const filled = await fillStore(tmp.dir);
    const gateway = await startGateway(testConfig(tmp.dir, { ...filled.config, ...extra }), silentLog);
    const adminCookie = await login(gateway.url, 'admin', '2580');
    const created = await call<{ token: string }>(gateway.url, 'POST', '/api/tokens', { cookie: adminCookie }, { name: 'test admin', scope: 'admin' });
    return {
      gateway,
      url: gateway.url,
      parts: filled.parts,
      adminCookie,
      adminToken: created.token,
      async close() {
        await gateway.stop();
        tmp.cleanup();
      },
    };
  } catch (err) {
    tmp.cleanup();
    throw err;
  }
}

/** Log in on the HMI login route; returns the session cookie (`name=value`). */
export async function login(url: string, operatorId: string, pin: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ operatorId, pin }) });
  if (!res.ok) throw new Error(`login ${operatorId}: HTTP ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('login: no session cookie');
  return cookie;
}

export type Credentials = { token: string } | { cookie: string } | Record<string, never>;

export function headersOf(c: Credentials): Record<string, string> {
  if ('token' in c) return { authorization: `Bearer ${c.token}` };
  if ('cookie' in c) return { cookie: c.cookie };
  return {};
}

/** One JSON call; throws with the body on a non-2xx answer. */
export async function call<T>(url: string, method: string, path: string, creds: Credentials, body?: unknown): Promise<T> {
  const res = await fetch(url + path, {
    method,
    headers: { ...headersOf(creds), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The status and error code of a call expected to fail. */
export async function failure(url: string, method: string, path: string, creds: Credentials, body?: unknown): Promise<{ status: number; code: string }> {
  const res = await fetch(url + path, {
    method,
    headers: { ...headersOf(creds), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json().catch(() => ({}))) as { code?: string };
  return { status: res.status, code: json.code ?? '' };
}

/**
 * Parts arriving on the live gateway while a test reads: `workers` loops
 * trigger parts through the API. `pause()` waits until no trigger is in
 * flight and holds the loops, so a test can mark a point in time exactly.
 */
export class LiveLine {
  readonly created: { id: string; at: number }[] = [];
  private running = true;
  private paused: Promise<void> | null = null;
  private release: (() => void) | null = null;
  private inFlight = 0;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly url: string,
    private readonly token: string,
    stations: string[],
    workers = 2,
  ) {
    this.loops = Array.from({ length: workers }, (_, w) => this.loop(stations[w % stations.length] ?? 'line-a'));
  }

  private async loop(station: string): Promise<void> {
    while (this.running) {
      if (this.paused) await this.paused;
      if (!this.running) return;
      this.inFlight++;
      try {
        const i = await call<{ id: string }>(this.url, 'POST', `/api/stations/${station}/trigger`, { token: this.token }, {});
        this.created.push({ id: i.id, at: Date.now() });
      } finally {
        this.inFlight--;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async pause(): Promise<void> {
    if (!this.paused) this.paused = new Promise((r) => (this.release = r));
    const until = Date.now() + 10_000;
    while (this.inFlight > 0) {
      if (Date.now() > until) throw new Error('live line: a trigger did not finish within 10 s');
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  resume(): void {
    this.release?.();
    this.paused = null;
    this.release = null;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.resume();
    await Promise.all(this.loops);
  }
}

/**
 * Local date, time and offset of an instant in a zone, straight from Intl:
 * the tests' own reading of plant time, independent of the gateway's ZonedClock.
 */
export function localTime(ms: number, timeZone: string): { date: string; hour: number; minute: number; offset: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', timeZoneName: 'longOffset' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  ) as Record<string, string>;
  const offset = (parts.timeZoneName ?? 'GMT').replace('GMT', '') || '+00:00';
  return { date: `${parts.year}-${parts.month}-${parts.day}`, hour: Number(parts.hour), minute: Number(parts.minute), offset };
}

/**
 * The exact two-sided interval by its definition, independent of the
 * gateway's incomplete-beta code: the p where the binomial tail sums equal
 * alpha/2, found by bisection on sums of binomial probabilities.
 */
export function exactInterval(x: number, n: number, confidence = 0.95): { lower: number; upper: number } {
  const alpha = (1 - confidence) / 2;
  /** P(X = k) for k = 0..n, each from the previous one, in logs (no overflow for large n). */
  const pmfs = (p: number) => {
    const out = new Array<number>(n + 1);
    let lp = n * Math.log1p(-p);
    out[0] = Math.exp(lp);
    for (let k = 0; k < n; k++) {
      lp += Math.log(n - k) - Math.log(k + 1) + Math.log(p) - Math.log1p(-p);
      out[k + 1] = Math.exp(lp);
    }
    return out;
  };
  const atLeast = (p: number) => pmfs(p).slice(x).reduce((a, b) => a + b, 0);
  const atMost = (p: number) => pmfs(p).slice(0, x + 1).reduce((a, b) => a + b, 0);
  // atLeast grows with p, atMost falls: bisect each to its alpha/2 crossing.
  const solve = (f: (p: number) => number, increasing: boolean) => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) < alpha === increasing) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  return { lower: x === 0 ? 0 : solve(atLeast, true), upper: x === n ? 1 : solve(atMost, false) };
}
