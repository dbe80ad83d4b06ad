/**
 * A gateway's persistent side for uplink tests: a real SQLite store and image
 * folder in a temp dir, real inspections with real JPEGs from the synthetic
 * line, and operator decisions through the real ReviewQueue (so the outbox
 * rows are exactly what a gateway writes).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { ulid } from 'ulid';
import { SyntheticLine } from '../../../gateway/src/camera/synthetic/synthetic-line.js';
import { datasetSinkSchema, uplinkSchema, type DatasetSinkConfig, type UplinkConfig } from '../../../gateway/src/config/sections/uplink.js';
import type { Inspection } from '../../../gateway/src/inspect/inspection.js';
import { Metrics } from '../../../gateway/src/metrics.js';
import { ReviewQueue, type Decision } from '../../../gateway/src/review/review-queue.js';
import { openStore, type Store } from '../../../gateway/src/store/store.js';
import { correctionPayload, type Origin } from '../../../gateway/src/uplink/correction-payload.js';
import { Uplink } from '../../../gateway/src/uplink/uplink.js';

export const DEFECTS = ['scratch', 'dent', 'crack', 'contamination', 'missing_hole'] as const;

export interface LogLine {
  level: number;
  msg: string;
  code?: string;
  [key: string]: unknown;
}

/** A pino logger whose lines land in an array, to assert what an engineer would read. */
export function captureLog(level = 'debug'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

export const ERROR = 50;
export const WARN = 40;

/** Poll until `fn` returns something truthy; fail naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Uplink config through the real schema (defaults, bounds), with quick reconnects for tests. */
export function uplinkConfig(over: Record<string, unknown>): UplinkConfig {
  return uplinkSchema.parse({ enabled: true, reconnectMinMs: 100, reconnectMaxMs: 400, pollIntervalMs: 100, metricsIntervalS: 0, ...over });
}

export function sinkConfig(over: Record<string, unknown>): DatasetSinkConfig {
  return datasetSinkSchema.parse({ reconnectMinMs: 100, reconnectMaxMs: 400, packIntervalS: 0, ...over });
}

export interface Plant {
  dir: string;
  store: Store;
  review: ReviewQueue;
  metrics: Metrics;
  origin: Origin;
  log: Logger;
  lines: LogLine[];
  /** `n` parts waiting for review, each with a real JPEG in the image store. */
  makeParts(n: number, station?: string): Promise<Inspection[]>;
  /** Decide a part as an operator at the HMI would (pass, or fail with a defect class). */
  decide(i: Inspection, verdict: 'pass' | 'fail', defectClass?: string): Decision;
  /** An uplink over this plant's store, wired as gateway.ts wires it. */
  uplink(cfg: UplinkConfig, opts?: { publicUrl?: string | null; checkEveryMs?: number }): Uplink;
  /** The bytes of an inspection's stored image. */
  imageOf(inspectionId: string): Buffer;
  close(): void;
}

export async function openPlant(opts: { dir?: string; origin?: Partial<Origin> } = {}): Promise<Plant> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'loupe-uplink-'));
  const { log, lines } = captureLog();
  const store = openStore(
    { dbFile: join(dir, 'loupe.db'), imagesDir: join(dir, 'images'), synchronous: 'full', fsyncImages: false, maxDiskMb: 1000, maxAgeDays: 30, minFreeDiskMb: 0, retentionIntervalMs: 60_000 },
    log,
  );
  const metrics = new Metrics();
  const origin: Origin = { site: 'plant-a', line: 'line-3', gatewayId: 'gw-7', ...opts.origin };
  const review = new ReviewQueue({
    store,
    stations: new Map(['s1', 's2'].map((s) => [s, { review: { timeoutMs: 3_600_000, safeVerdict: 'fail' as const }, defectLabels: () => DEFECTS }])),
    buildCorrection: (i, d) => ({ messageId: d.id, payload: correctionPayload(origin, i, d) }),
    metrics,
    log,
  });
  const camera = new SyntheticLine({ seed: 7, widthPx: 192, heightPx: 192, defectRate: 0.5, format: 'jpeg', startIndex: Math.floor(Math.random() * 1e6) });
  await camera.open();
  return {
    dir,
    store,
    review,
    metrics,
    origin,
    log,
    lines,
    async makeParts(n, station = 's1') {
      const out: Inspection[] = [];
      for (let k = 0; k < n; k++) {
        const frame = await camera.grab();
        const id = ulid();
        const i: Inspection = {
          id,
          partId: `P-${id.slice(-6)}`,
          station,
          triggeredAt: new Date(),
          trigger: 'api',
          modelId: 'demo-part',
          modelVersion: '1.0.0',
          findings: [{ label: frame.truth?.label === 'good' ? 'scratch' : (frame.truth?.label ?? 'scratch'), score: 0.45 }],
          defectScore: 0.45,
          modelVerdict: 'review',
          verdict: 'review',
          defectClass: null,
          decidedBy: null,
          reason: 'defect score 0.45 inside the review band',
          audit: false,
          state: 'awaiting-review',
          errorCode: null,
          timings: { totalMs: 12 },
          imageRef: null,
          sourceRef: frame.sourceRef,
          truth: frame.truth ?? null,
        };
        i.imageRef = await store.images.write(station, id, i.triggeredAt, 'jpg', frame.data);
        store.inspections.insert(i, frame.data.length);
        review.add(i);
        out.push(i);
      }
      return out;
    },
    decide(i, verdict, defectClass) {
      return review.decide({ decisionId: ulid(), inspectionId: i.id, verdict, defectClass: defectClass ?? null, operatorId: 'op-17', note: verdict === 'fail' ? 'seen at the HMI' : null }).settlement.decision;
    },
    uplink(cfg, o = {}) {
      const u = new Uplink(cfg, { origin, stations: ['s1', 's2'], store, metrics, log, publicUrl: () => o.publicUrl ?? null, checkEveryMs: o.checkEveryMs ?? 100 });
      review.on('settled', () => u.wake());
      return u;
    },
    imageOf(inspectionId) {
      const i = store.inspections.get(inspectionId);
      if (!i?.imageRef) throw new Error(`no image for ${inspectionId}`);
      return readFileSync(store.images.path(i.imageRef));
    },
    close() {
      review.stop();
      store.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
