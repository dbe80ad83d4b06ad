/**
 * Does a backlog of corrections drain without starving the line?
 *
 *   npx tsx bench/uplink-drain.ts [--rows 10000] [--seconds 10]
 *
 * A real Mosquitto (test/helpers/mosquitto.ts) with one QoS 1 subscriber, a
 * real store holding `rows` corrections with their JPEGs (inline in every
 * message), and a real station (demo model, CPU) inspecting back to back.
 * Phases: the pipeline alone; the pipeline while the whole backlog drains
 * with the throttle wide open; alone; the pipeline while a refilled backlog
 * drains at the default throttle (for `seconds`); the same drain with no
 * parts, for the uplink's CPU time per message; alone. Each drain's ratio is
 * against the mean of the runs alone on either side of it, measured in the
 * same process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ulid } from 'ulid';
import type { Frame } from '../gateway/src/camera/frame.js';
import type { CameraStatus, FrameSource } from '../gateway/src/camera/frame-source.js';
import { SyntheticLine } from '../gateway/src/camera/synthetic/synthetic-line.js';
import { packageRoot } from '../gateway/src/cli/paths.js';
import { parseConfig } from '../gateway/src/config/load.js';
import type { Inspection } from '../gateway/src/inspect/inspection.js';
import { resolveThresholds } from '../gateway/src/inspect/policy.js';
import { Station } from '../gateway/src/inspect/station.js';
import { Metrics } from '../gateway/src/metrics.js';
import { ImageStore } from '../gateway/src/store/images.js';
import { openStore, type Store } from '../gateway/src/store/store.js';
import { uplinkSchema } from '../gateway/src/config/sections/uplink.js';
import { correctionPayload } from '../gateway/src/uplink/correction-payload.js';
import { Uplink } from '../gateway/src/uplink/uplink.js';
import { Detector } from '../gateway/src/vision/detector.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { describeMachine, percentile } from './machine.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '10' } } });
const rows = Number(values.rows);
const seconds = Number(values.seconds);
if (!Number.isInteger(rows) || rows < 1) throw new Error(`--rows: expected a positive integer, got "${values.rows}"`);
if (!(seconds > 0)) throw new Error(`--seconds: expected a positive number, got "${values.seconds}"`);

/** Frames rendered before the clock starts: the figure is the pipeline's, not the renderer's. */
class ReplaySource implements FrameSource {
  readonly type = 'replay';
  private n = 0;
  constructor(private readonly recorded: Frame[]) {}
  async open(): Promise<void> {}
  async grab(): Promise<Frame> {
    const f = this.recorded[this.n++ % this.recorded.length];
    if (!f) throw new Error('no frames');
    return { ...f, capturedAt: new Date() };
  }
  status(): CameraStatus {
    return { state: 'ok', lastError: null, framesGrabbed: this.n, framesFailed: 0 };
  }
  async close(): Promise<void> {}
}

const log = pino({ level: 'silent' });
const defaults = uplinkSchema.parse({});
const dir = mkdtempSync(join(tmpdir(), 'loupe-bench-uplink-'));
const broker = await startMosquitto({ persistence: false });
const origin = { site: 'bench', line: 'line-1', gatewayId: 'gw-bench' };

try {
  const line = new SyntheticLine({ seed: 3, widthPx: 256, heightPx: 256, defectRate: 0.3, format: 'jpeg' });
  await line.open();
  const frames: Frame[] = [];
  for (let i = 0; i < 100; i++) frames.push(await line.grab());
  const meanKb = frames.reduce((n, f) => n + f.data.length, 0) / frames.length / 1024;

  // The gateway's defaults: synchronous=full, fsync per image.
  const modelCfg = { path: join(packageRoot(), 'models', 'demo-part'), providers: ['cpu' as const], intraOpThreads: 0, warmupRuns: 10 };
  const cfg = parseConfig({ gateway: { dataDir: dir, site: origin.site, line: origin.line, id: origin.gatewayId }, stations: [{ id: 'bench', trigger: { type: 'api' }, model: modelCfg, policy: { auditRate: 0 } }] }, 'bench');
  const store = openStore(cfg.store, log);
  const metrics = new Metrics();
  const detector = await Detector.load(modelCfg, log);
  const scfg = cfg.stations[0]!;
  const station = new Station(scfg, { source: new ReplaySource(frames), detector, thresholds: resolveThresholds(scfg.policy, detector.manifest.thresholds), store, metrics, log });
  await station.start();
  // Warm up until the rate settles (JIT, ONNX Runtime's arenas, SQLite's page cache).
  await inspect(station, Math.min(5, seconds), () => false);

  const consumer = await startConsumer(broker.url);

  process.stdout.write(`Loupe uplink drain\n${describeMachine()}\nbroker   ${broker.log().match(/mosquitto version \S+/)?.[0] ?? 'mosquitto'}, QoS 1, one subscriber in its own process\n`);
  process.stdout.write(`backlog  ${rows} corrections, JPEG ${meanKb.toFixed(1)} KB inline (base64) in each\n\n`);

  // Each drain sits between two runs alone; its ratio is against their mean (the box is shared and noisy).
  const alone: Rate[] = [await inspect(station, seconds, () => false)];
  line1('pipeline alone', rate(alone[0]!));
  await fillBacklog(store, frames, rows);
  const open = await drain(store, { maxMessagesPerS: 10_000, maxInFlight: 64 }, Number.POSITIVE_INFINITY);
  alone.push(await inspect(station, seconds, () => false));
  line1('pipeline alone', rate(alone[1]!));
  await fillBacklog(store, frames, rows);
  const throttled = await drain(store, {}, seconds);
  const cost = await drainCost(store, seconds);
  store.db.exec('DELETE FROM outbox');
  alone.push(await inspect(station, seconds, () => false));
  line1('pipeline alone', rate(alone[2]!));

  process.stdout.write('\n');
  report('throttle open (maxMessagesPerS 10000, maxInFlight 64)', open, (alone[0]!.perSecond + alone[1]!.perSecond) / 2);
  report(`default throttle (maxMessagesPerS ${defaults.maxMessagesPerS}, maxInFlight ${defaults.maxInFlight})`, throttled, (alone[1]!.perSecond + alone[2]!.perSecond) / 2);
  process.stdout.write(
    `gateway CPU per message (default throttle, no parts)\n  ${cost.perSecond.toFixed(0)} msgs/s, ${(cost.cpuShare * 100).toFixed(1)} % of one core, ${cost.msPerMessage.toFixed(2)} ms CPU per message (all threads of the process)\n`,
  );
  process.stdout.write(`\nsubscriber received ${await consumer.stop()} messages\n`);

  await station.stop(2000);
  await detector.close();
  store.close();

  /** The process's CPU time per published message, with the line idle: the uplink's own cost, robust to a noisy box. */
  async function drainCost(s: Store, windowSeconds: number) {
    const uplinkCfg = parseConfig({ uplink: { enabled: true, brokerUrl: broker.url, metricsIntervalS: 0 } }, 'bench').uplink;
    const uplink = new Uplink(uplinkCfg, { origin, stations: ['bench'], store: s, metrics, log, publicUrl: () => null });
    uplink.start();
    await new Promise((r) => setTimeout(r, 1000));
    const p0 = uplink.status().published;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowSeconds * 1000));
    const cpu = process.cpuUsage(c0);
    const elapsed = (performance.now() - t0) / 1000;
    const sent = uplink.status().published - p0;
    await uplink.stop();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return { perSecond: sent / elapsed, cpuShare: cpuMs / 1000 / elapsed, msPerMessage: cpuMs / Math.max(1, sent) };
  }

  /** Drain with the given uplink settings while the pipeline runs; until empty or `maxSeconds`. */
  async function drain(s: Store, over: Record<string, unknown>, maxSeconds: number) {
    const uplinkCfg = parseConfig({ uplink: { enabled: true, brokerUrl: broker.url, metricsIntervalS: 0, ...over } }, 'bench').uplink;
    const uplink = new Uplink(uplinkCfg, { origin, stations: ['bench'], store: s, metrics, log, publicUrl: () => null });
    const before = uplink.status().backlog;
    const t0 = performance.now();
    uplink.start();
    const pipeline = await inspect(station, maxSeconds, () => uplink.status().backlog === 0);
    const elapsed = (performance.now() - t0) / 1000;
    // Acknowledged, whether or not the batched delete of its row has run yet.
    const sent = uplink.status().published;
    await uplink.stop();
    return { sent, left: before - sent, elapsed, pipeline };
  }
} finally {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}

function line1(label: string, figure: string): void {
  process.stdout.write(`${label.padEnd(16)} ${figure}\n`);
}

function report(label: string, r: { sent: number; left: number; elapsed: number; pipeline: Rate }, alone: number): void {
  process.stdout.write(`${label}\n`);
  process.stdout.write(`  drain      ${(r.sent / r.elapsed).toFixed(0)} msgs/s (${r.sent} sent in ${r.elapsed.toFixed(1)} s${r.left > 0 ? `, ${r.left} left when the window closed` : ''})\n`);
  process.stdout.write(`  pipeline   ${rate(r.pipeline)} while draining = ${(r.pipeline.perSecond / alone).toFixed(2)} x alone\n`);
}

/** Parts per second with the station kept busy (closed loop at maxInFlight), for `maxSeconds` or until `done()`. */
async function inspect(station: Station, maxSeconds: number, done: () => boolean): Promise<Rate> {
  let parts = 0;
  const ms: number[] = [];
  let stop = false;
  const t0 = performance.now();
  const worker = async () => {
    while (!stop) {
      await station.trigger({ via: 'api' }).then(
        (i) => {
          parts++;
          ms.push(i.timings.totalMs ?? 0);
        },
        () => undefined,
      );
    }
  };
  const workers = Array.from({ length: station.cfg.maxInFlight }, worker);
  while (!stop) {
    await new Promise((r) => setTimeout(r, 50));
    const elapsed = (performance.now() - t0) / 1000;
    stop = elapsed >= maxSeconds || (elapsed >= 0.5 && done());
  }
  await Promise.all(workers);
  return { perSecond: parts / ((performance.now() - t0) / 1000), p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99) };
}

interface Rate {
  perSecond: number;
  /** Trigger to committed record, per part. */
  p50Ms: number;
  p99Ms: number;
}

function rate(r: Rate): string {
  return `${r.perSecond.toFixed(1)} parts/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms per part`;
}

/** `n` reviewed parts with their images and outbox rows, as decisions leave them (one transaction). */
async function fillBacklog(s: Store, frames: Frame[], n: number): Promise<void> {
  // Setup only: the backlog's images need not be fsynced one by one.
  const images = new ImageStore(join(dir, 'images'), { fsync: false, minFreeBytes: 0 });
  const made: { i: Inspection; bytes: number }[] = [];
  for (let k = 0; k < n; k++) {
    const frame = frames[k % frames.length]!;
    const id = ulid();
    const i: Inspection = {
      id,
      partId: `B-${k}`,
      station: 'bench',
      triggeredAt: new Date(),
      trigger: 'api',
      modelId: 'demo-part',
      modelVersion: '1.0.0',
      findings: [{ label: 'scratch', score: 0.4 }],
      defectScore: 0.4,
      modelVerdict: 'review',
      verdict: 'fail',
      defectClass: 'scratch',
      decidedBy: 'operator',
      reason: 'operator op-1: fail (scratch)',
      audit: false,
      state: 'reviewed',
      errorCode: null,
      timings: {},
      imageRef: null,
      sourceRef: frame.sourceRef,
      truth: null,
    };
    i.imageRef = await images.write('bench', id, i.triggeredAt, 'jpg', frame.data);
    made.push({ i, bytes: frame.data.length });
  }
  s.db.transaction(() => {
    for (const { i, bytes } of made) {
      s.inspections.insert(i, bytes);
      const d = { id: ulid(), inspectionId: i.id, verdict: 'fail' as const, defectClass: 'scratch', note: null, decidedBy: 'operator' as const, operatorId: 'op-1', decidedAt: new Date() };
      s.decisions.insert(d);
      s.outbox.enqueue({ messageId: d.id, kind: 'correction', station: 'bench', inspectionId: i.id, payload: correctionPayload(origin, i, d) });
    }
  })();
}

/** A QoS 1 subscriber in a child process, so its parsing is not charged to the gateway's event loop. */
async function startConsumer(url: string): Promise<{ stop(): Promise<number> }> {
  const code = [
    "import { connectAsync } from 'mqtt';",
    `const c = await connectAsync(${JSON.stringify(url)}, { protocolVersion: 5, clientId: 'bench-consumer' });`,
    'let n = 0;',
    "c.on('message', () => n++);",
    "await c.subscribeAsync('loupe/v1/+/+/+/correction', { qos: 1 });",
    "process.stdout.write('ready\\n');",
    "process.on('SIGTERM', () => { process.stdout.write(`${n}\\n`); process.exit(0); });",
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('ready')) {
    if (child.exitCode !== null) throw new Error('bench consumer exited');
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      return Number(out.trim().split('\n').at(-1));
    },
  };
}
