import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import type { FrameSource } from '../../gateway/src/camera/frame-source.js';
import { SyntheticLine } from '../../gateway/src/camera/synthetic/synthetic-line.js';
import { parseConfig } from '../../gateway/src/config/load.js';
import type { LoupeConfig, LoupeConfigInput } from '../../gateway/src/config/schema.js';
import type { StationConfig } from '../../gateway/src/config/sections/station.js';
import { resolveThresholds } from '../../gateway/src/inspect/policy.js';
import { Station } from '../../gateway/src/inspect/station.js';
import { Metrics } from '../../gateway/src/metrics.js';
import { ReviewQueue } from '../../gateway/src/review/review-queue.js';
import { openStore, type Store } from '../../gateway/src/store/store.js';
import { Detector } from '../../gateway/src/vision/detector.js';

/** The model package the gateway ships: a real ONNX model, quick enough on a CPU. */
export const DEMO_MODEL = fileURLToPath(new URL('../../models/demo-part', import.meta.url));

type StationInput = NonNullable<LoupeConfigInput['stations']>[number];

/** One log line as pino writes it. */
export interface LogLine {
  level: number;
  msg: string;
  code?: string;
  [key: string]: unknown;
}

/** A pino logger that keeps every line for assertions (and prints them when LOUPE_TEST_LOG names a level). */
export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const echo = process.env.LOUPE_TEST_LOG;
  const log = pino(
    { level: 'debug' },
    {
      write(chunk: string) {
        const line = JSON.parse(chunk) as LogLine;
        lines.push(line);
        if (echo && pino.levels.values[echo] !== undefined && line.level >= (pino.levels.values[echo] ?? 100)) process.stderr.write(chunk);
      },
    },
  );
  return { log, lines };
}

export interface PlcTestLine {
  dir: string;
  cfg: LoupeConfig;
  stationCfg: StationConfig;
  store: Store;
  station: Station;
  review: ReviewQueue;
  metrics: Metrics;
  log: Logger;
  lines: LogLine[];
  close(): Promise<void>;
}

/**
 * A real station as the gateway builds it (synthetic camera, the demo model
 * on CPU, SQLite in a temp dir, the review queue) with trigger `plc`, for
 * the handshake to drive. `over` overrides the test defaults; `grabDelayMs`
 * makes the camera slow to deliver, as a camera with a long exposure is.
 */
export async function startPlcLine(over: Partial<StationInput> = {}, opts: { grabDelayMs?: number } = {}): Promise<PlcTestLine> {
  const dir = mkdtempSync(join(tmpdir(), 'loupe-plc-'));
  const cfg = parseConfig(
    {
      gateway: { id: 'loupe-plc-test', dataDir: dir },
      store: { synchronous: 'normal', fsyncImages: false, minFreeDiskMb: 0 },
      stations: [
        {
          id: 'station-1',
          camera: { type: 'synthetic', seed: 11, defectRate: 0.3, widthPx: 128, heightPx: 128 },
          trigger: { type: 'plc' },
          model: { path: DEMO_MODEL, providers: ['cpu'], warmupRuns: 1, intraOpThreads: 1 },
          policy: { auditRate: 0 },
          ...over,
        } as StationInput,
      ],
    },
    '(plc test)',
  );
  const stationCfg = cfg.stations[0] as StationConfig;
  const { log, lines } = captureLog();
  const store = openStore(cfg.store, log.child({ component: 'store' }));
  const metrics = new Metrics();
  const detector = await Detector.load(stationCfg.model, log);
  const cam = stationCfg.camera;
  if (cam.type !== 'synthetic') throw new Error('PLC test lines use the synthetic camera');
  const line = new SyntheticLine({ seed: cam.seed, widthPx: cam.widthPx, heightPx: cam.heightPx, defectRate: cam.defectRate, defectKinds: cam.defectKinds, brightness: cam.brightness, format: cam.format });
  const delay = opts.grabDelayMs ?? 0;
  // A camera that takes its time to expose and transfer a frame (without holding up the event loop).
  const source: FrameSource =
    delay > 0
      ? {
          type: line.type,
          open: () => line.open(),
          close: () => line.close(),
          status: () => line.status(),
          grab: async (signal) => {
            await new Promise((r) => setTimeout(r, delay));
            return line.grab(signal);
          },
        }
      : line;
  const station = new Station(stationCfg, { source, detector, thresholds: resolveThresholds(stationCfg.policy, detector.manifest.thresholds), store, metrics, log: log.child({ station: stationCfg.id }) });
  const review = new ReviewQueue({
    store,
    stations: new Map([[stationCfg.id, { review: stationCfg.review, defectLabels: () => detector.manifest.labels.filter((l) => l !== detector.manifest.goodLabel) }]]),
    buildCorrection: (_i, d) => ({ messageId: d.id, payload: { decision: d.id } }),
    metrics,
    log: log.child({ component: 'review' }),
  });
  station.on('inspected', (i) => review.add(i));
  review.start(100);
  await station.start();
  let closed = false;
  return {
    dir,
    cfg,
    stationCfg,
    store,
    station,
    review,
    metrics,
    log,
    lines,
    async close() {
      if (closed) return;
      closed = true;
      await station.stop(2000);
      review.stop();
      await detector.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
