/**
 * Does a large export stream in bounded memory?
 *
 *   npx tsx bench/export-memory.ts [--rows 100000] [--zip-images 5000]
 *
 * A child process fills a real store with `rows` inspections (findings from
 * real runs of the demo model, so rows have their real size: about 1 kB of
 * findings JSON with heat maps each) and `zip-images` of them with real JPEGs.
 * Then a real gateway runs in a second child, with its JavaScript heap capped
 * at `heap-mb` (default 64 MB: less than one export's output, so an export
 * that gathered its rows could not finish), and serves CSV, NDJSON and ZIP
 * exports over loopback HTTP while it samples its own resident memory every
 * 5 ms. This process only reads the responses. The baseline, measured here
 * afterwards, is what an export that collects its rows first would hold: the
 * same rows read with `.all()` and turned into one CSV string.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import v8 from 'node:v8';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { ulid } from 'ulid';
import { ApiTokens } from '../gateway/src/auth/api-tokens.js';
import { SyntheticLine } from '../gateway/src/camera/synthetic/synthetic-line.js';
import { packageRoot } from '../gateway/src/cli/paths.js';
import { parseConfig } from '../gateway/src/config/load.js';
import type { LoupeConfigInput } from '../gateway/src/config/schema.js';
import { csvHeader, csvLine } from '../gateway/src/export/csv.js';
import { toExportRecord } from '../gateway/src/export/record.js';
import { startGateway } from '../gateway/src/gateway.js';
import type { Inspection } from '../gateway/src/inspect/inspection.js';
import { Bucketer } from '../gateway/src/stats/buckets.js';
import { ZonedClock } from '../gateway/src/stats/zoned-clock.js';
import { ApiTokenRepo } from '../gateway/src/store/api-tokens.js';
import { fromRow } from '../gateway/src/store/inspections.js';
import { openStore } from '../gateway/src/store/store.js';
import { Detector } from '../gateway/src/vision/detector.js';
import { describeMachine } from './machine.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, 'zip-images': { type: 'string', default: '5000' }, 'heap-mb': { type: 'string', default: '64' }, fill: { type: 'string' }, serve: { type: 'string' } },
});
const rows = Number(values.rows);
const zipImages = Number(values['zip-images']);
const log = pino({ level: 'silent' });
const modelPath = join(packageRoot(), 'models', 'demo-part');

function config(dataDir: string): LoupeConfigInput {
  return {
    gateway: { dataDir },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent', pretty: 'never' },
    store: { synchronous: 'normal', fsyncImages: false, minFreeDiskMb: 0 },
    stations: [{ id: 'bench', trigger: { type: 'api' }, model: { path: modelPath, providers: ['cpu'], warmupRuns: 0 } }],
    shifts: { timeZone: 'Europe/Berlin' },
  };
}

/** The child's job: `rows` inspections, the first `zipImages` with their frames on disk. */
async function fill(dataDir: string): Promise<void> {
  const cfg = parseConfig(config(dataDir), 'bench');
  const store = openStore(cfg.store, log);
  const detector = await Detector.load({ path: modelPath, providers: ['cpu'], intraOpThreads: 0, warmupRuns: 0 }, log);
  const line = new SyntheticLine({ seed: 11, defectRate: 0.3, format: 'jpeg' });
  await line.open();
  const samples: { frame: Buffer; findings: Inspection['findings']; score: number; truth: Inspection['truth'] }[] = [];
  for (let k = 0; k < 64; k++) {
    const f = await line.grab();
    const d = await detector.detect(f.data);
    samples.push({ frame: f.data, findings: d.result.findings, score: d.result.defectScore, truth: f.truth ?? null });
  }
  await detector.close();
  const start = Date.parse('2026-10-01T00:00:00Z');
  const insert = store.db.transaction((batch: { i: Inspection; bytes: number }[]) => batch.forEach((b) => store.inspections.insert(b.i, b.bytes)));
  let batch: { i: Inspection; bytes: number }[] = [];
  for (let k = 0; k < rows; k++) {
    const s = samples[k % samples.length];
    if (!s) throw new Error('no samples');
    const at = new Date(start + k * 25_000);
    const verdict = s.score < 0.2 ? 'pass' : s.score >= 0.8 ? 'fail' : 'review';
    const i: Inspection = {
      id: ulid(at.getTime()), partId: `P-${k}`, station: 'bench', triggeredAt: at, trigger: 'plc', modelId: 'demo-part', modelVersion: '1.0.0',
      findings: s.findings, defectScore: s.score, modelVerdict: verdict, verdict: verdict === 'review' ? 'fail' : verdict, defectClass: verdict === 'pass' ? null : (s.findings[0]?.label ?? null),
      decidedBy: verdict === 'review' ? 'timeout' : 'model', reason: `defect score ${s.score.toFixed(2)}`, audit: false, state: verdict === 'review' ? 'timed-out' : 'decided',
      errorCode: null, timings: { decodeMs: 1.2, preprocessMs: 0.8, inferMs: 2.1, totalMs: 4.6 }, imageRef: null, sourceRef: `synthetic:${k}`, truth: s.truth,
    };
    if (k < zipImages) i.imageRef = await store.images.write('bench', i.id, at, 'jpg', s.frame);
    batch.push({ i, bytes: i.imageRef ? s.frame.length : 0 });
    if (batch.length === 5000) (insert(batch), (batch = []));
  }
  insert(batch);
  store.close();
}

/**
 * The server's job: a gateway on the store, an API token, and its own memory
 * figures on request ("begin" resets the peak, "end" prints it), so the
 * figures are the gateway's and not the client's that reads the exports.
 */
async function serve(dataDir: string): Promise<void> {
  const cfg = parseConfig(config(dataDir), 'bench');
  const gateway = await startGateway(cfg, log);
  const { token } = new ApiTokens({ repo: new ApiTokenRepo(gateway.store.db), log }).create({ name: 'bench', scope: 'read', createdBy: 'bench' });
  let before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  process.stdout.write(`${JSON.stringify({ url: gateway.url, token })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'begin') {
      before = process.memoryUsage.rss();
      peak = before;
      process.stdout.write('{}\n');
    } else if (line === 'end') {
      peak = Math.max(peak, process.memoryUsage.rss());
      process.stdout.write(`${JSON.stringify({ before, peak, heapLimit: v8.getHeapStatistics().heap_size_limit })}\n`);
    } else break;
  }
  clearInterval(sampler);
  await gateway.stop();
}

if (values.fill) {
  await fill(values.fill);
  process.exit(0);
}
if (values.serve) {
  await serve(values.serve);
  process.exit(0);
}

process.stdout.write(`Loupe benchmark: export memory\n${describeMachine()}\n\n`);
const dataDir = mkdtempSync(join(tmpdir(), 'loupe-bench-export-'));
const self = fileURLToPath(import.meta.url);
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
try {
  const t0 = performance.now();
  const filler = spawnSync(process.execPath, [...process.execArgv, self, '--fill', dataDir, '--rows', String(rows), '--zip-images', String(zipImages)], { stdio: 'inherit' });
  if (filler.status !== 0) throw new Error(`filling the store failed (exit ${filler.status})`);
  process.stdout.write(`store    ${rows} inspections (${zipImages} with images), filled in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const server = spawn(process.execPath, [...process.execArgv, `--max-old-space-size=${values['heap-mb']}`, self, '--serve', dataDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
  const reply = async <T>(send?: string): Promise<T> => {
    if (send !== undefined) server.stdin.write(`${send}\n`);
    const r = await replies.next();
    if (r.done) throw new Error('the gateway process ended');
    return JSON.parse(r.value) as T;
  };
  const { url, token } = await reply<{ url: string; token: string }>();
  process.stdout.write(`gateway  child process, JavaScript heap capped at ${values['heap-mb']} MB\n\n`);

  /** Read an export to the end, counting bytes; the gateway reports its RSS before and its peak during. */
  async function measure(name: string, path: string): Promise<{ rise: number }> {
    await new Promise((r) => setTimeout(r, 300));
    await reply('begin');
    const start = performance.now();
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok || !res.body) throw new Error(`${path}: HTTP ${res.status}`);
    let firstByteMs = 0;
    let bytes = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (bytes === 0) firstByteMs = performance.now() - start;
      bytes += value.byteLength;
    }
    const seconds = (performance.now() - start) / 1000;
    const m = await reply<{ before: number; peak: number }>('end');
    const n = Number(res.headers.get('x-loupe-export-rows'));
    process.stdout.write(
      `${name.padEnd(9)} ${String(n).padStart(7)} rows  ${(n / seconds).toFixed(0).padStart(7)} rows/s  ${mb(bytes / seconds).padStart(6)} MB/s  ` +
        `first byte ${firstByteMs.toFixed(0).padStart(4)} ms  ${mb(bytes).padStart(7)} MB sent  gateway RSS peak ${mb(m.peak)} MB (+${mb(m.peak - m.before)} MB)\n`,
    );
    return { rise: m.peak - m.before };
  }

  const at = (k: number) => encodeURIComponent(new Date(Date.parse('2026-10-01T00:00:00Z') + k * 25_000).toISOString());
  // A tenth first: if memory grew with the rows, the full export would rise about ten times as much.
  const tenth = await measure('CSV 1/10', `/api/exports/inspections.csv?to=${at(rows / 10)}`);
  const csv = await measure('CSV', '/api/exports/inspections.csv');
  await measure('NDJSON', '/api/exports/inspections.ndjson');
  await measure('ZIP 1/10', `/api/exports/inspections.zip?to=${at(zipImages / 10)}`);
  await measure('ZIP', `/api/exports/inspections.zip?to=${at(zipImages)}`);
  server.stdin.end('quit\n');
  await new Promise((r) => server.once('exit', r));

  // Baseline: the same CSV built in memory from rows read all at once (this process, no heap cap).
  await new Promise((r) => setTimeout(r, 300));
  const before = process.memoryUsage.rss();
  const cfg = parseConfig(config(dataDir), 'bench');
  const db = new Database(cfg.store.dbFile, { readonly: true });
  const b0 = performance.now();
  const all = db.prepare('SELECT * FROM inspection ORDER BY id').all() as Parameters<typeof fromRow>[0][];
  const clock = new ZonedClock('Europe/Berlin');
  const bucketer = new Bucketer(clock, cfg.shifts.definitions);
  const opts = { delimiter: ',' as const, bom: true, guardFormulas: true };
  const text = csvHeader(opts) + all.map((r) => csvLine(toExportRecord({ inspection: fromRow(r), decision: null, seq: 0 }, clock, bucketer), opts)).join('');
  const naiveSeconds = (performance.now() - b0) / 1000;
  const naiveRise = process.memoryUsage.rss() - before;
  db.close();
  process.stdout.write(
    `baseline  ${String(all.length).padStart(7)} rows  ${(all.length / naiveSeconds).toFixed(0).padStart(7)} rows/s  all rows in memory, one CSV string of ${mb(text.length)} MB: RSS +${mb(naiveRise)} MB\n\n`,
  );
  process.stdout.write(
    `ratios   full CSV / tenth of it: ${(csv.rise / Math.max(1, tenth.rise)).toFixed(2)} x the memory rise for 10 x the rows; ` +
      `streamed / in-memory baseline: ${(csv.rise / Math.max(1, naiveRise)).toFixed(3)}\n`,
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
