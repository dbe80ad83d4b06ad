import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ulid } from 'ulid';
import { SyntheticLine } from '../../gateway/src/camera/synthetic/synthetic-line.js';
import { hashSeed, mulberry32 } from '../../gateway/src/camera/synthetic/prng.js';
import type { LoupeConfigInput } from '../../gateway/src/config/schema.js';
import type { Finding, GroundTruth, Inspection } from '../../gateway/src/inspect/inspection.js';
import { decide, resolveThresholds } from '../../gateway/src/inspect/policy.js';
import { Metrics } from '../../gateway/src/metrics.js';
import { ReviewQueue, type Settlement } from '../../gateway/src/review/review-queue.js';
import { openStore } from '../../gateway/src/store/store.js';
import { correctionPayload } from '../../gateway/src/uplink/correction-payload.js';
import { Detector } from '../../gateway/src/vision/detector.js';
import { loadModelPackage } from '../../gateway/src/vision/model-package.js';
import { silentLog, testConfig } from './test-config.js';

/**
 * A gateway store filled with a few days of production, so the engineer API
 * can be checked against numbers worked out independently.
 *
 * How it is filled, and why: every part is a real synthetic-line frame run
 * through the real demo model (`models/demo-part`) by the real Detector, and
 * decided by the real policy (`decide`). Those model runs are the slow part
 * (~6 ms each), so they are cached on disk under node_modules/.cache/loupe-test,
 * keyed by the model files and the line settings; a run with a warm cache
 * spends its time only on the store. The parts are then written through the
 * store's own repositories (images through the ImageStore, rows through
 * InspectionRepo) with timestamps spread over three days, which a live line
 * cannot produce in a test. Reviews go through the real ReviewQueue with a
 * simulated clock: a simulated operator judges every part by its ground
 * truth (verdicts always right, the class wrong on purpose for a known few),
 * and a known few reviews time out.
 *
 * The three days (Europe/Berlin) span the end of summer time on 2026-10-25,
 * so that day has 25 hours; the line stops for three hours one night; the
 * defect share jumps for four hours one afternoon (the p-chart must flag it);
 * the last day is recorded under model version 1.1.0 (the same network,
 * re-released), so version filters have two values.
 */

export const TIME_ZONE = 'Europe/Berlin';
/** 2026-10-24 00:00 +02:00 to 2026-10-27 00:00 +01:00: 73 hours. */
export const WINDOW = { from: new Date('2026-10-23T22:00:00Z'), to: new Date('2026-10-26T23:00:00Z') };
/** Defect share 0.45 instead of 0.12: 2026-10-25 14:00-18:00 +01:00. */
export const DRIFT = { from: new Date('2026-10-25T13:00:00Z'), to: new Date('2026-10-25T17:00:00Z') };
/** The lamp has dimmed to 60 %: 2026-10-24 06:00 to 2026-10-25 06:00 local. The model misses defects it would see in good light. */
export const DIM_LIGHT = { from: new Date('2026-10-24T04:00:00Z'), to: new Date('2026-10-25T05:00:00Z') };
/** No parts: 2026-10-26 02:00-05:00 +01:00. */
export const LINE_STOP = { from: new Date('2026-10-26T01:00:00Z'), to: new Date('2026-10-26T04:00:00Z') };
/** Parts from here on carry model version 1.1.0 (2026-10-26 06:00 +01:00). */
export const SECOND_VERSION_FROM = new Date('2026-10-26T05:00:00Z');

const MODEL_DIR = fileURLToPath(new URL('../../models/demo-part', import.meta.url));
const CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/loupe-test', import.meta.url));
const LINE = { seed: 424242, defectRate: 0.15, format: 'jpeg' as const };
const DIM_LINE = { ...LINE, seed: 424243, brightness: 0.6 };
/** Thresholds of both stations, set here rather than taken from the model so a retrained model still leaves an uncertain band. */
const POLICY = { passBelow: 0.2, failAtOrAbove: 0.8, auditRate: 0.3 };
const REVIEW_TIMEOUT_MS = 120_000;
/** Every n-th defective part an operator judges gets a wrong class on purpose. */
const OPERATOR_CLASS_SLIP_EVERY = 8;
const REVIEW_TIMEOUT_SHARE = 0.04;
const ERROR_SHARE = 0.005;

/** Notes operators type, including what breaks naive CSV writers. */
const NOTES = ['Kratzer, „tief“ – bitte prüfen', 'two\nlines', 'says "dent"', '=1+1', '  burr at hole 3  ', 'Ø 12 ✓; ok?'];

/** One part as the test knows it: its ground truth, what the model and policy said, what the operator did. */
export interface FilledPart {
  id: string;
  partId: string;
  station: 'line-a' | 'line-b';
  triggeredAt: number;
  modelVersion: string;
  /** null for a part with no result (simulated camera timeout). */
  truth: string | null;
  defectScore: number | null;
  topClass: string | null;
  topScore: number | null;
  modelVerdict: 'pass' | 'fail' | 'review' | null;
  audit: boolean;
  /** What the simulated operator was told to decide; null when the review timed out or none was needed. */
  operator: { verdict: 'pass' | 'fail'; defectClass: string | null; classWrongOnPurpose: boolean; id: string } | null;
  /** The record as the store holds it after everything settled. */
  final: { state: Inspection['state']; verdict: Inspection['verdict']; defectClass: string | null; decidedBy: Inspection['decidedBy']; note: string | null; decidedAt: number | null };
  hasImage: boolean;
}

export interface FilledStore {
  dataDir: string;
  parts: FilledPart[];
  /** Config to start a gateway on this store: two API-triggered stations, the plant's zone and shifts. */
  config: LoupeConfigInput;
}

interface ModelRun {
  truth: GroundTruth;
  findings: Finding[];
  defectScore: number;
  decodeMs: number;
  preprocessMs: number;
  inferMs: number;
  /** Byte range of the frame in the cache's image file. */
  at: number;
  length: number;
}

/** Real model outputs for `count` parts of a synthetic line, from the cache or computed (and cached). */
async function modelRuns(line: typeof LINE & { brightness?: number }, count: number): Promise<{ runs: ModelRun[]; images: Buffer }> {
  const key = createHash('sha256')
    .update(readFileSync(join(MODEL_DIR, 'model.onnx')))
    .update(readFileSync(join(MODEL_DIR, 'model.json')))
    .update(JSON.stringify({ line, count, v: 1 }))
    .digest('hex')
    .slice(0, 16);
  const meta = join(CACHE_DIR, `model-runs-${key}.ndjson`);
  const blob = join(CACHE_DIR, `model-runs-${key}.bin`);
  if (existsSync(meta) && existsSync(blob)) {
    return { runs: readFileSync(meta, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ModelRun), images: readFileSync(blob) };
  }
  const detector = await Detector.load({ path: MODEL_DIR, providers: ['cpu'], intraOpThreads: 1, warmupRuns: 1 }, silentLog);
  const source = new SyntheticLine(line);
  await source.open();
  const runs: ModelRun[] = [];
  const frames: Buffer[] = [];
  let at = 0;
  try {
    for (let k = 0; k < count; k++) {
      const frame = await source.grab();
      const d = await detector.detect(frame.data);
      runs.push({ truth: frame.truth ?? { label: 'good', defects: [] }, findings: d.result.findings, defectScore: d.result.defectScore, decodeMs: d.decodeMs, preprocessMs: d.preprocessMs, inferMs: d.inferMs, at, length: frame.data.length });
      frames.push(frame.data);
      at += frame.data.length;
    }
  } finally {
    await detector.close();
  }
  // Written under temporary names and renamed: two test files filling at once never read half a cache.
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `.${process.pid}-${Date.now()}`;
  writeFileSync(blob + tmp, Buffer.concat(frames));
  writeFileSync(meta + tmp, runs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  renameSync(blob + tmp, blob);
  renameSync(meta + tmp, meta);
  return { runs, images: Buffer.concat(frames) };
}

/** Config for a gateway on a filled store (model runs on CPU, parts only through the API). */
export function filledConfig(): LoupeConfigInput {
  const station = (id: string, seed: number) => ({
    id,
    camera: { type: 'synthetic' as const, seed, defectRate: 0.3 },
    trigger: { type: 'api' as const },
    model: { path: MODEL_DIR, providers: ['cpu' as const], warmupRuns: 0, intraOpThreads: 1 },
    policy: POLICY,
    review: { timeoutMs: REVIEW_TIMEOUT_MS, safeVerdict: 'fail' as const },
  });
  return {
    stations: [station('line-a', 1001), station('line-b', 1002)],
    shifts: { timeZone: TIME_ZONE },
  };
}

/** Fill `dataDir` with `count` parts (default 3000) over WINDOW; see the file comment. */
export async function fillStore(dataDir: string, count = 3000): Promise<FilledStore> {
  const config = filledConfig();
  const cfg = testConfig(dataDir, config);
  const pkg = loadModelPackage(MODEL_DIR);
  const labels = pkg.manifest.labels.filter((l) => l !== pkg.manifest.goodLabel);
  const stationCfg = cfg.stations[0];
  if (!stationCfg) throw new Error('no station in the filled config');
  const thresholds = resolveThresholds(stationCfg.policy, pkg.manifest.thresholds);

  // Rendered parts for normal and for dim light, each split by truth; enough that no pool runs dry.
  const pools = await Promise.all(
    [
      [LINE, Math.ceil(count * 0.8)],
      [DIM_LINE, Math.ceil(count * 0.45)],
    ].map(async ([line, n]) => {
      const { runs, images } = await modelRuns(line as typeof LINE, n as number);
      return { images, good: runs.filter((r) => r.truth.label === 'good'), defective: runs.filter((r) => r.truth.label !== 'good'), all: runs, tag: line === LINE ? 'n' : 'd' };
    }),
  );

  const store = openStore(cfg.store, silentLog);
  let now = WINDOW.from.getTime();
  const origin = { site: 'site', line: 'line', gatewayId: 'loupe-test' };
  const review = new ReviewQueue({
    store,
    stations: new Map(cfg.stations.map((s) => [s.id, { review: s.review, defectLabels: () => labels }])),
    buildCorrection: (i, d) => ({ messageId: d.id, payload: correctionPayload(origin, i, d) }),
    metrics: new Metrics(),
    log: silentLog,
    now: () => now,
  });

  const random = mulberry32(hashSeed(LINE.seed, 7));
  const stopMs = LINE_STOP.to.getTime() - LINE_STOP.from.getTime();
  const activeMs = WINDOW.to.getTime() - WINDOW.from.getTime() - stopMs;
  const parts: FilledPart[] = [];
  let judgedDefects = 0;
  try {
    for (let k = 0; k < count; k++) {
      // Evenly spread over the running hours with jitter; the line stop is skipped.
      // The same number of draws for every part, whatever happens to it: a part decided
      // differently (a score on a threshold computed on another CPU) does not reshuffle the rest.
      const [jitter, stationDraw, errorDraw, defectDraw, auditDraw, timeoutDraw, delayDraw] = Array.from({ length: 7 }, () => random()) as [number, number, number, number, number, number, number];
      let t = WINDOW.from.getTime() + Math.floor(((k + 0.1 + 0.8 * jitter) / count) * activeMs);
      if (t >= LINE_STOP.from.getTime()) t += stopMs;
      const station = stationDraw < 0.7 ? 'line-a' : 'line-b';
      const partId = k === 17 ? '=HYPERLINK("http://example.invalid")' : k === 18 ? 'B-00018,"quoted"' : k === 19 ? 'Ø-00019-ü✓' : `${station === 'line-a' ? 'A' : 'B'}-${String(k).padStart(5, '0')}`;
      const modelVersion = t >= SECOND_VERSION_FROM.getTime() ? '1.1.0' : pkg.manifest.version;
      const triggeredAt = new Date(t);
      const id = ulid(t);
      const base: Inspection = {
        id, partId, station, triggeredAt, trigger: 'api', modelId: pkg.manifest.id, modelVersion, findings: [], defectScore: null, modelVerdict: null,
        verdict: null, defectClass: null, decidedBy: null, reason: '', audit: false, state: 'error', errorCode: null, timings: {}, imageRef: null,
        sourceRef: null, truth: null,
      };

      if (errorDraw < ERROR_SHARE) {
        // A camera that did not answer: no frame, no model output (what Station records).
        const i: Inspection = { ...base, errorCode: 'LOUPE_ERR_CAMERA_TIMEOUT', reason: 'camera did not deliver a frame in time', timings: { grabMs: 2000, totalMs: 2001.5 } };
        store.inspections.insert(i, 0);
        parts.push({ id, partId, station, triggeredAt: t, modelVersion, truth: null, defectScore: null, topClass: null, topScore: null, modelVerdict: null, audit: false, operator: null, final: { state: 'error', verdict: null, defectClass: null, decidedBy: null, note: null, decidedAt: null }, hasImage: false });
        continue;
      }

      const inDrift = t >= DRIFT.from.getTime() && t < DRIFT.to.getTime();
      const pool = pools[t >= DIM_LIGHT.from.getTime() && t < DIM_LIGHT.to.getTime() ? 1 : 0];
      const wantDefect = defectDraw < (inDrift ? 0.45 : 0.12);
      const run = pool && (wantDefect ? pool.defective.shift() : pool.good.shift());
      if (!pool || !run) throw new Error('filled store: ran out of rendered parts');
      const images = pool.images;
      const decision = decide({ findings: run.findings, defectScore: run.defectScore }, thresholds, auditDraw);
      const frame = images.subarray(run.at, run.at + run.length);
      const i: Inspection = {
        ...base,
        findings: run.findings,
        defectScore: run.defectScore,
        modelVerdict: decision.verdict,
        verdict: decision.verdict,
        defectClass: decision.defectClass,
        decidedBy: decision.verdict === 'review' ? null : 'model',
        reason: decision.reason,
        audit: decision.audit,
        state: decision.verdict === 'review' || decision.audit ? 'awaiting-review' : 'decided',
        timings: { decodeMs: run.decodeMs, preprocessMs: run.preprocessMs, inferMs: run.inferMs, decideMs: 0.02, storeMs: 0.8, totalMs: run.decodeMs + run.preprocessMs + run.inferMs + 1.1 },
        sourceRef: `synthetic:${pool.tag}${pool.all.indexOf(run)}`,
        truth: run.truth,
      };
      i.imageRef = await store.images.write(station, id, triggeredAt, 'jpg', Buffer.from(frame));
      store.inspections.insert(i, frame.length);

      const part: FilledPart = {
        id, partId, station, triggeredAt: t, modelVersion, truth: run.truth.label, defectScore: run.defectScore, topClass: run.findings[0]?.label ?? null,
        topScore: run.findings[0]?.score ?? null, modelVerdict: decision.verdict, audit: decision.audit, operator: null,
        final: { state: i.state, verdict: i.verdict, defectClass: i.defectClass, decidedBy: i.decidedBy, note: null, decidedAt: null }, hasImage: true,
      };
      parts.push(part);
      if (i.state !== 'awaiting-review') continue;

      review.add(i);
      let settled: Settlement;
      if (timeoutDraw < REVIEW_TIMEOUT_SHARE) {
        now = t + REVIEW_TIMEOUT_MS + 1;
        const got = new Promise<Settlement>((resolve) => review.once('settled', resolve));
        review.expire();
        settled = await got;
      } else {
        now = t + 5_000 + Math.floor(delayDraw * 85_000);
        const isDefect = run.truth.label !== 'good';
        if (isDefect) judgedDefects++;
        const wrongClass = isDefect && judgedDefects % OPERATOR_CLASS_SLIP_EVERY === 0;
        const defectClass = !isDefect ? null : wrongClass ? (labels.find((l) => l !== run.truth.label) ?? null) : run.truth.label;
        const operatorId = ['op-anna', 'op-ben', 'op-chen'][k % 3] ?? 'op-anna';
        const note = k % 23 === 0 ? (NOTES[(k / 23) % NOTES.length] ?? null) : null;
        part.operator = { verdict: isDefect ? 'fail' : 'pass', defectClass, classWrongOnPurpose: wrongClass, id: operatorId };
        settled = review.decide({ decisionId: `d-${k}`, inspectionId: id, verdict: part.operator.verdict, defectClass, note, operatorId }).settlement;
      }
      const s = settled.inspection;
      part.final = { state: s.state, verdict: s.verdict, defectClass: s.defectClass, decidedBy: s.decidedBy, note: settled.decision.note, decidedAt: settled.decision.decidedAt.getTime() };
    }
  } finally {
    review.stop();
    store.close();
  }
  return { dataDir, parts, config };
}
