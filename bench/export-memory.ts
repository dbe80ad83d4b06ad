/**
 * Does a large export stream in bounded memory?
 *
 *   npx tsx bench/export-memory.ts [--rows 100000] [--zip-images 5000]
 *
 * A child process fills a real store with `rows` inspections (findings from
 * real runs of the demo model, so rows have their real size: about 1 kB of
 * findings JSON with heat maps each) and `zip-images` of them with real JPEGs.
 * Then a real gateway (HTTP on loopback, admin token) serves CSV, NDJSON and
 * ZIP exports of everything while this process reads the responses and
 * samples its resident memory every 5 ms. The baseline, measured in the same
 * process afterwards, is what an export that collects its rows first would
 * hold: the same rows read with `.all()` and turned into one CSV string.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import { openStore } from '../gateway/src/store/store.js';
import { Detector } from '../gateway/src/vision/detector.js';
import { describeMachine } from './machine.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, 'zip-images': { type: 'string', default: '5000' }, fill: { type: 'string' } } });
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

if (values.fill) {
  await fill(values.fill);
  process.exit(0);
}

process.stdout.write(`Loupe benchmark: export memory\n${describeMachine()}\n\n`);
const dataDir = mkdtempSync(join(tmpdir(), 'loupe-bench-export-'));
try {
  const t0 = performance.now();
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--fill', dataDir, '--rows', String(rows), '--zip-images', String(zipImages)], { stdio: 'inherit' });
  if (child.status !== 0) throw new Error(`filling the store failed (exit ${child.status})`);
  process.stdout.write(`store    ${rows} inspections (${zipImages} with images), filled in ${((performance.now() - t0) / 1000).toFixed(1)} s by a child process\n\n`);

  const cfg = parseConfig(config(dataDir), 'bench');
  const gateway = await startGateway(cfg, log);
  const tokens = new ApiTokens({ repo: new ApiTokenRepo(gateway.store.db), log });
  const { token } = tokens.create({ name: 'bench', scope: 'read', createdBy: 'bench' });

  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);

  /** Read an export to the end, counting bytes; returns rows/s and the RSS rise above the level before it. */
  async function measure(path: string): Promise<{ rows: number; seconds: number; bytes: number; firstByteMs: number; rise: number; peak: number }> {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 200));
    const before = process.memoryUsage.rss();
    peak = before;
    const start = performance.now();
    const res = await fetch(gateway.url + path, { headers: { authorization: `Bearer ${token}` } });
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
    peak = Math.max(peak, process.memoryUsage.rss());
    return { rows: Number(res.headers.get('x-loupe-export-rows')), seconds, bytes, firstByteMs, rise: peak - before, peak };
  }

  const report = (name: string, m: Awaited<ReturnType<typeof measure>>) =>
    process.stdout.write(
      `${name.padEnd(9)} ${String(m.rows).padStart(7)} rows  ${(m.rows / m.seconds).toFixed(0).padStart(7)} rows/s  ${mb(m.bytes / m.seconds).padStart(6)} MB/s  ` +
        `first byte ${m.firstByteMs.toFixed(0).padStart(4)} ms  ${mb(m.bytes).padStart(7)} MB sent  RSS peak ${mb(m.peak)} MB (+${mb(m.rise)} MB)\n`,
    );

  // A tenth first: if memory were not bounded, the full export would rise about ten times as much.
  const tenth = encodeURIComponent(new Date(Date.parse('2026-10-01T00:00:00Z') + (rows / 10) * 25_000).toISOString());
  report('CSV 1/10', await measure(`/api/exports/inspections.csv?to=${tenth}`));
  const csv = await measure('/api/exports/inspections.csv');
  report('CSV', csv);
  report('NDJSON', await measure('/api/exports/inspections.ndjson'));
  report('ZIP', await measure(`/api/exports/inspections.zip?to=${encodeURIComponent(new Date(Date.parse('2026-10-01T00:00:00Z') + zipImages * 25_000).toISOString())}`));
  clearInterval(sampler);
  const maxRss = process.resourceUsage().maxRSS * 1024;
  await gateway.stop();

  // Baseline: the same CSV built in memory from rows read all at once.
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const before = process.memoryUsage.rss();
  const db = new Database(cfg.store.dbFile, { readonly: true });
  const b0 = performance.now();
  const all = db.prepare('SELECT * FROM inspection ORDER BY id').all() as Parameters<typeof import('../gateway/src/store/inspections.js').fromRow>[0][];
  const { fromRow } = await import('../gateway/src/store/inspections.js');
  const clock = new ZonedClock('Europe/Berlin');
  const bucketer = new Bucketer(clock, cfg.shifts.definitions);
  const opts = { delimiter: ',' as const, bom: true, guardFormulas: true };
  const text = csvHeader(opts) + all.map((r) => csvLine(toExportRecord({ inspection: fromRow(r), decision: null, seq: 0 }, clock, bucketer), opts)).join('');
  const naiveSeconds = (performance.now() - b0) / 1000;
  const naiveRise = process.memoryUsage.rss() - before;
  db.close();
  process.stdout.write(
    `baseline  ${String(all.length).padStart(7)} rows  ${(all.length / naiveSeconds).toFixed(0).padStart(7)} rows/s  (all rows in memory, one CSV string of ${mb(text.length)} MB)  RSS +${mb(naiveRise)} MB\n\n`,
  );
  process.stdout.write(`streamed CSV holds ${(csv.rise / Math.max(1, naiveRise)).toFixed(3)} x the memory of the in-memory baseline; process max RSS ${mb(maxRss)} MB (model loaded, store open)\n`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
