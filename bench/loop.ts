/**
 * Does one retraining cycle from operator corrections fix a drifted line?
 *
 *   npm run bench:loop [-- --window 500 --drift-windows 4 --after-windows 3 --brightness 0.55 --epochs 4]
 *
 * The whole gateway (startGateway: synthetic camera, the demo model on the
 * CPU, SQLite, review queue, registry, shadow, HTTP API) runs the line; a
 * simulated operator answers every part sent to review (model unsure, or an
 * audit sample) from the synthetic line's ground truth. Phases:
 *
 *  1. baseline: the shipped model on the line it was trained for;
 *  2. drift: the lamp dims (the gateway restarts with `brightness` on the
 *     synthetic camera and a new seed, as after a night shift replaced the
 *     lighting); corrections pile up;
 *  3. retrain: corrections reach the dataset through the real path when a
 *     Mosquitto binary is found (outbox -> MQTT -> `loupe dataset-sink` in
 *     this process -> pack), else they are packed directly with DatasetSplit;
 *     models/training/finetune.py fine-tunes the shipped model on them plus a
 *     replay of the original training data (re-rendered: seed 1, the demo
 *     model's training parts);
 *  4. the candidate is uploaded through the API, shadowed on the drifted
 *     line (parts paced so the shadow has time), its report read, and
 *     promoted through the API (forced, and said so, if the gate refuses);
 *  5. after: the same drifted line with the new model.
 *
 * Per window: escape rate (defective parts whose final verdict is pass),
 * false-reject rate (good parts whose final verdict is fail), review rate
 * (parts sent to an operator), and the verdict latency.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ulid } from 'ulid';
import { packageRoot } from '../gateway/src/cli/paths.js';
import { parseConfig } from '../gateway/src/config/load.js';
import { datasetSinkSchema } from '../gateway/src/config/sections/uplink.js';
import { startGateway, type Gateway } from '../gateway/src/gateway.js';
import type { Inspection } from '../gateway/src/inspect/inspection.js';
import type { Settlement } from '../gateway/src/review/review-queue.js';
import { currentPack } from '../gateway/src/uplink/sink/dataset-packer.js';
import { DatasetSink, splitOf } from '../gateway/src/uplink/sink/dataset-sink.js';
import { DatasetSplit } from '../gateway/src/vision/dataset-pack.js';
import { mosquittoBinary, startMosquitto, type Mosquitto } from '../test/helpers/mosquitto.js';
import { describeMachine, percentile } from './machine.js';

const { values } = parseArgs({
  options: {
    window: { type: 'string', default: '500' },
    'baseline-windows': { type: 'string', default: '2' },
    'drift-windows': { type: 'string', default: '4' },
    'shadow-parts': { type: 'string', default: '500' },
    'after-windows': { type: 'string', default: '3' },
    brightness: { type: 'string', default: '0.55' },
    'defect-rate': { type: 'string', default: '0.3' },
    epochs: { type: 'string', default: '4' },
    replay: { type: 'string', default: '1500' },
    'original-train': { type: 'string', default: '1500' },
    python: { type: 'string' },
    'no-broker': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});

function num(name: keyof typeof values, min: number, max: number, integer = true): number {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) throw new Error(`--${name}: expected ${integer ? 'an integer' : 'a number'} ${min}..${max}, got "${String(values[name])}"`);
  return v;
}

const WINDOW = num('window', 20, 100_000);
const BASELINE = num('baseline-windows', 0, 100);
const DRIFT = num('drift-windows', 1, 100);
const SHADOW_PARTS = num('shadow-parts', 10, 100_000);
const AFTER = num('after-windows', 1, 100);
const BRIGHTNESS = num('brightness', 0.1, 3, false);
const DEFECT_RATE = num('defect-rate', 0.05, 0.95, false);
const root = packageRoot();
const shipped = join(root, 'models', 'demo-part');
const python = values.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const useBroker = !values['no-broker'] && mosquittoBinary() !== null;
const log = pino({ level: process.env.LOUPE_BENCH_LOG ?? 'silent' });
const work = mkdtempSync(join(tmpdir(), 'loupe-loop-'));
const dataDir = join(work, 'gateway');
const started = Date.now();

const say = (line: string) => process.stdout.write(`${line}\n`);
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;

interface Window {
  name: string;
  phase: string;
  model: string;
  parts: number;
  defective: number;
  good: number;
  escapes: number;
  falseRejects: number;
  reviews: number;
  totalMs: number[];
}

/** Every operator decision so far, for the direct packing path (no broker). */
const decisions: Settlement[] = [];

function baseConfig(seed: number, brightness: number, broker: Mosquitto | null) {
  return parseConfig(
    {
      gateway: { dataDir, id: 'bench', shutdownGraceMs: 5000 },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent', pretty: 'never' },
      store: { synchronous: 'normal', fsyncImages: false, minFreeDiskMb: 0 },
      stations: [
        {
          id: 'station-1',
          camera: { type: 'synthetic', seed, defectRate: DEFECT_RATE, brightness },
          trigger: { type: 'api' },
          model: { path: shipped, providers: ['cpu'], warmupRuns: 3 },
          review: { timeoutMs: 3_600_000 },
        },
      ],
      uplink: broker ? { enabled: true, brokerUrl: broker.url, clientId: 'bench-gateway', maxMessagesPerS: 1000, maxInFlight: 32, pollIntervalMs: 200, metricsIntervalS: 0 } : { enabled: false },
    },
    'bench:loop',
  );
}

async function open(seed: number, brightness: number, broker: Mosquitto | null): Promise<Gateway> {
  const gw = await startGateway(baseConfig(seed, brightness, broker), log);
  gw.review.on('settled', (s) => decisions.push(s));
  return gw;
}

/** The operator at the HMI: looks at the part and says what it is. */
function answer(gw: Gateway, i: Inspection): 'pass' | 'fail' {
  const label = i.truth?.label ?? 'good';
  const verdict = label === 'good' ? 'pass' : 'fail';
  gw.review.decide({ decisionId: ulid(), inspectionId: i.id, verdict, defectClass: verdict === 'fail' ? label : null, operatorId: 'sim-operator' });
  return verdict;
}

async function runWindow(gw: Gateway, name: string, phase: string, parts: number, opts: { paceShadow?: boolean } = {}): Promise<Window> {
  const station = gw.stations.get('station-1');
  if (!station) throw new Error('no station');
  const w: Window = { name, phase, model: station.status().model.version, parts: 0, defective: 0, good: 0, escapes: 0, falseRejects: 0, reviews: 0, totalMs: [] };
  for (let k = 0; k < parts; k++) {
    const i = await station.trigger({ via: 'api' });
    if (i.state === 'error') throw new Error(`part ${i.partId} has no result: ${i.reason}`);
    const defective = (i.truth?.label ?? 'good') !== 'good';
    let final = i.modelVerdict;
    if (i.state === 'awaiting-review') {
      w.reviews++;
      final = answer(gw, i);
    }
    w.parts++;
    w.totalMs.push(i.timings.totalMs ?? 0);
    if (defective) {
      w.defective++;
      if (final === 'pass') w.escapes++;
    } else {
      w.good++;
      if (final === 'fail') w.falseRejects++;
    }
    if (opts.paceShadow) {
      // A line with gaps between parts: the candidate runs in them.
      await new Promise((r) => setImmediate(r));
      await gw.models.shadows.runner('station-1')?.whenIdle();
    }
  }
  return w;
}

function pct(n: number, of: number): string {
  return of === 0 ? '   n/a' : `${((100 * n) / of).toFixed(1).padStart(5)} %`;
}

function table(windows: Window[]): string {
  const head = 'window  phase       model        parts  defective  escapes            false rejects      review rate        p50 ms';
  const rows = windows.map((w) =>
    [
      w.name.padEnd(7),
      w.phase.padEnd(11),
      w.model.padEnd(12),
      String(w.parts).padStart(5),
      String(w.defective).padStart(10),
      `${pct(w.escapes, w.defective)} (${String(w.escapes).padStart(3)})`.padStart(18),
      `${pct(w.falseRejects, w.good)} (${String(w.falseRejects).padStart(3)})`.padStart(18),
      `${pct(w.reviews, w.parts)} (${String(w.reviews).padStart(3)})`.padStart(18),
      percentile(w.totalMs, 50).toFixed(1).padStart(9),
    ].join('  '),
  );
  return [head, ...rows].join('\n');
}

function pooled(ws: Window[]): Window {
  return ws.reduce(
    (a, w) => ({ ...a, parts: a.parts + w.parts, defective: a.defective + w.defective, good: a.good + w.good, escapes: a.escapes + w.escapes, falseRejects: a.falseRejects + w.falseRejects, reviews: a.reviews + w.reviews, totalMs: [...a.totalMs, ...w.totalMs] }),
    { name: '', phase: '', model: '', parts: 0, defective: 0, good: 0, escapes: 0, falseRejects: 0, reviews: 0, totalMs: [] as number[] },
  );
}

/** Progress worth echoing: not torch's export warnings, and of the training progress only each epoch's last line. */
function shown(line: string): boolean {
  if (!line.trim() || /UserWarning|_C\._jit|shape_type_inference/.test(line)) return false;
  const batch = /batch (\d+)\/(\d+)/.exec(line);
  return batch === null || batch[1] === batch[2];
}

/** Run a command, echoing its stderr lines with a prefix (training progress); resolves with stdout. */
function runShown(cmd: string, args: string[], prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) if (shown(l)) say(`${prefix}${l}`);
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args[0] ?? ''} exited with ${code}`))));
  });
}

/** Without a broker: the corrections as the sink would pack them (same split rule, corrections.jsonl). */
async function packDirect(gw: Gateway, dir: string): Promise<string> {
  const labels = ['good', 'scratch', 'dent', 'crack', 'contamination', 'missing_hole'];
  const spec = { width: 128, height: 128, heatMapWidth: 16, heatMapHeight: 16, labels, source: 'operator corrections (bench, packed directly)' };
  const splits = { train: await DatasetSplit.create(join(dir, 'train'), spec), val: await DatasetSplit.create(join(dir, 'val'), spec), test: await DatasetSplit.create(join(dir, 'test'), spec) };
  const lines: string[] = [];
  for (const { inspection, decision } of decisions) {
    if (decision.decidedBy !== 'operator' || !inspection.imageRef) continue;
    const label = decision.verdict === 'pass' ? 'good' : (decision.defectClass ?? 'other');
    if (!labels.includes(label)) continue;
    const split = splitOf(decision.id, 10, 10);
    await splits[split].append(await gw.store.images.read(inspection.imageRef), label, { sourceRef: decision.id });
    lines.push(JSON.stringify({ correctionId: decision.id, split, label, decidedAt: decision.decidedAt.toISOString() }));
  }
  for (const s of Object.values(splits)) await s.close();
  writeFileSync(join(dir, 'corrections.jsonl'), `${lines.join('\n')}\n`);
  return dir;
}

async function api(gw: Gateway, cookie: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = (await res.json()) as unknown;
  if (!res.ok) throw Object.assign(new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`), { status: res.status, body: json });
  return json;
}

async function login(gw: Gateway): Promise<string> {
  const res = await fetch(`${gw.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ operatorId: 'admin', pin: '2580' }) });
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!res.ok || !cookie) throw new Error(`login: HTTP ${res.status}`);
  return cookie;
}

/** Training needs a Python with torch, numpy and onnx; say so before running the line for minutes. */
async function checkPython(): Promise<void> {
  try {
    await runShown(python, ['-c', 'import torch, numpy, onnx'], '    ');
  } catch {
    throw new Error(`${python} cannot import torch, numpy and onnx: install them (Debian: python3-torch python3-numpy python3-onnx) or pass --python PATH`);
  }
}

async function main(): Promise<void> {
  await checkPython();
  say(`Loupe loop benchmark: drift, corrections, fine-tune, shadow, promote\n${describeMachine()}`);
  say(`line     synthetic, defect rate ${DEFECT_RATE}, windows of ${WINDOW} parts; drift: brightness ${BRIGHTNESS}`);
  say(`dataset  ${useBroker ? 'outbox -> Mosquitto -> dataset-sink -> pack (real path)' : 'packed directly from the decisions with DatasetSplit (no broker)'}`);
  say(`work     ${work}${values.keep ? ' (kept)' : ''}\n`);
  const windows: Window[] = [];
  let broker: Mosquitto | null = null;
  let sink: DatasetSink | null = null;
  let gw: Gateway | null = null;
  try {
    if (useBroker) {
      broker = await startMosquitto();
      sink = new DatasetSink(datasetSinkSchema.parse({ brokerUrl: broker.url, clientId: 'bench-sink', outDir: join(work, 'sink'), modelPath: shipped, packIntervalS: 0, reconnectMinMs: 100, reconnectMaxMs: 500 }), { log });
      await sink.start();
    }

    // The original training data to replay: the demo model's own training parts, re-rendered (seed 1).
    const original = join(work, 'original');
    const originalTrain = num('original-train', 100, 100_000);
    say(`[${elapsed()}] rendering ${originalTrain} original training parts to replay (seed 1, as the demo model was trained)`);
    await runShown(process.execPath, ['--import', 'tsx', 'scripts/make-dataset.ts', '--out', original, '--seed', '1', '--train', String(originalTrain), '--val', '400', '--test', '600', '--defect-rate', '0.5', '--size', '128', '--examples', '0'], '    ');

    gw = await open(3, 1, broker);
    for (let k = 1; k <= BASELINE; k++) windows.push(await runWindow(gw, `B${k}`, 'baseline', WINDOW));
    say(`[${elapsed()}] baseline done`);
    await gw.stop();
    gw = await open(4, BRIGHTNESS, broker);
    for (let k = 1; k <= DRIFT; k++) windows.push(await runWindow(gw, `D${k}`, 'drift', WINDOW));
    say(`[${elapsed()}] drift windows done: ${decisions.length} operator decisions so far`);

    // Corrections -> dataset.
    let corrections: string;
    if (sink) {
      const s = sink;
      const deadline = Date.now() + 120_000;
      while (s.stats().total < decisions.length) {
        if (Date.now() > deadline) throw new Error(`only ${s.stats().total} of ${decisions.length} corrections reached the sink in 120 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const summary = await s.pack();
      corrections = (await currentPack(s.outDir)) ?? summary?.dir ?? '';
      say(`[${elapsed()}] sink packed ${summary?.packed.train ?? 0} train, ${summary?.packed.val ?? 0} val, ${summary?.packed.test ?? 0} test corrections (${s.stats().total} received over MQTT)`);
    } else {
      corrections = await packDirect(gw, join(work, 'corrections'));
      say(`[${elapsed()}] packed ${decisions.length} corrections directly`);
    }

    // Fine-tune.
    const candidateDir = join(work, 'candidate');
    const t0 = Date.now();
    say(`[${elapsed()}] fine-tuning (${python} models/training/finetune.py)`);
    const stdout = await runShown(python, ['models/training/finetune.py', '--parent', shipped, '--corrections', corrections, '--data', original, '--out', candidateDir, '--version', '1.1.0', '--epochs', String(num('epochs', 1, 50)), '--replay', String(num('replay', 0, 100_000)), '--command', 'npm run bench:loop'], '    ');
    const trainS = (Date.now() - t0) / 1000;
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { version: string; sha256: string; counts: { correctionsTrain: number } };
    say(`[${elapsed()}] candidate ${summary.version} (sha256 ${summary.sha256.slice(0, 12)}) from ${summary.counts.correctionsTrain} corrections in ${trainS.toFixed(0)} s`);

    // Upload, shadow, report, promote: through the API, as an engineer would.
    const cookie = await login(gw);
    const onnx = readFileSync(join(candidateDir, 'model.onnx'));
    await api(gw, cookie, 'POST', '/api/models/station-1/packages', {
      manifest: JSON.parse(readFileSync(join(candidateDir, 'model.json'), 'utf8')) as unknown,
      onnx: onnx.toString('base64'),
      sha256: summary.sha256,
      card: readFileSync(join(candidateDir, 'MODEL_CARD.md'), 'utf8'),
      reason: 'fine-tuned on corrections after the lighting change',
    });
    await api(gw, cookie, 'POST', '/api/models/station-1/shadow', { modelId: 'demo-part', version: summary.version, reason: 'check on the dim line' });
    const shadowWindow = await runWindow(gw, 'S1', 'shadow', SHADOW_PARTS, { paceShadow: true });
    windows.push(shadowWindow);
    const report = (await api(gw, cookie, 'GET', '/api/models/station-1/shadow/report')) as {
      parts: number;
      skipped: number;
      agreement: { share: number | null };
      confirmed: { parts: number; active: { escapes: number; falseRejects: number; reviews: number; cost: number }; candidate: { escapes: number; falseRejects: number; reviews: number; cost: number } };
      gate: { ok: boolean; reasons: string[] };
    };
    say(
      `[${elapsed()}] shadow: ${report.parts} parts compared, ${report.skipped} skipped; agreement with the active model ${((report.agreement.share ?? 0) * 100).toFixed(1)} %; ` +
        `on ${report.confirmed.parts} operator-judged parts the candidate had ${report.confirmed.candidate.escapes} escapes, ${report.confirmed.candidate.falseRejects} false rejects, ${report.confirmed.candidate.reviews} reviews (cost ${report.confirmed.candidate.cost}); ` +
        `the active model ${report.confirmed.active.escapes}, ${report.confirmed.active.falseRejects}, ${report.confirmed.active.reviews} (cost ${report.confirmed.active.cost})`,
    );
    let forced = false;
    try {
      await api(gw, cookie, 'POST', '/api/models/station-1/promote', { modelId: 'demo-part', version: summary.version, reason: 'shadow report passed' });
      say(`[${elapsed()}] promoted ${summary.version}: the shadow gate passed`);
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
      forced = true;
      say(`[${elapsed()}] the shadow gate refused (${report.gate.reasons.join('; ')}); promoting with force to measure anyway`);
      await api(gw, cookie, 'POST', '/api/models/station-1/promote', { modelId: 'demo-part', version: summary.version, reason: 'bench: gate refused, measured anyway', force: true });
    }
    for (let k = 1; k <= AFTER; k++) windows.push(await runWindow(gw, `A${k}`, 'after', WINDOW));

    say(`\n${table(windows)}\n`);
    const before = pooled(windows.filter((w) => w.phase === 'drift'));
    const after = pooled(windows.filter((w) => w.phase === 'after'));
    const base = pooled(windows.filter((w) => w.phase === 'baseline'));
    const rate = (n: number, of: number) => (of === 0 ? 0 : n / of);
    const escBefore = rate(before.escapes, before.defective);
    const escAfter = rate(after.escapes, after.defective);
    const revBefore = rate(before.reviews, before.parts);
    const revAfter = rate(after.reviews, after.parts);
    say(`drifted line, before -> after one retraining cycle (pooled windows):`);
    say(`  escape rate        ${pct(before.escapes, before.defective)} -> ${pct(after.escapes, after.defective)}  (baseline before the drift ${pct(base.escapes, base.defective).trim()})`);
    say(`  false-reject rate  ${pct(before.falseRejects, before.good)} -> ${pct(after.falseRejects, after.good)}  (baseline ${pct(base.falseRejects, base.good).trim()})`);
    say(`  review rate        ${pct(before.reviews, before.parts)} -> ${pct(after.reviews, after.parts)}  (baseline ${pct(base.reviews, base.parts).trim()})`);
    const halved = escBefore > 0 ? escAfter <= escBefore / 2 : escAfter === 0;
    say(`  goal (escapes at least halved, review rate not up): ${halved && revAfter <= revBefore ? 'met' : 'NOT met'}${forced ? ' (promotion was forced past the shadow gate)' : ''}`);
    say(`  fine-tuning took ${trainS.toFixed(0)} s; whole run ${elapsed()}`);
  } finally {
    await gw?.stop();
    await sink?.stop();
    await broker?.close();
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  }
}

await main();
