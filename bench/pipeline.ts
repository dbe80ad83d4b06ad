import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import { parseConfig } from '../gateway/src/config/load.js';
import type { Inspection } from '../gateway/src/inspect/inspection.js';
import { resolveThresholds } from '../gateway/src/inspect/policy.js';
import { Station } from '../gateway/src/inspect/station.js';
import { Metrics } from '../gateway/src/metrics.js';
import { openStore } from '../gateway/src/store/store.js';
import { Detector } from '../gateway/src/vision/detector.js';
import { prepare } from '../gateway/src/vision/preprocess.js';
import { percentile } from './machine.js';
import { recordFrames, RecordedFrames } from './recorded-frames.js';

export interface PipelineFigures {
  bareInferencesPerSecond: number;
  /** Decode + resize + tensor alone on every core: no pipeline can pass this. */
  decodeFramesPerSecond: number;
  pipelinePartsPerSecond: number;
  ratio: number;
  stages: Record<string, { p50: number; p99: number }>;
  parts: number;
}

/** Bare ONNX Runtime vs the whole station on the same model, session options and frames. */
export async function benchPipeline(opts: { modelPath: string; seconds: number; durable: boolean }): Promise<PipelineFigures> {
  const log = pino({ level: 'silent' });
  const modelCfg = { path: opts.modelPath, providers: ['cpu' as const], intraOpThreads: 0, warmupRuns: 10 };
  const frames = await recordFrames(100, 7);

  // Bare: session.run in a loop on a prepared tensor.
  const bare = await Detector.load(modelCfg, log);
  const m = bare.manifest;
  const prepared = await prepare(frames[0]?.data ?? Buffer.alloc(0), m.input);
  const tensor = new ort.Tensor(m.input.dtype, prepared.tensorData, prepared.dims);
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < opts.seconds * 1000) {
    await bare.runTensor(tensor);
    runs++;
  }
  const bareRate = runs / ((performance.now() - t0) / 1000);
  await bare.close();

  // Ceiling: image decoding alone, as many at once as there are cores (sharp works off the event loop).
  let decoded = 0;
  const td = performance.now();
  const decoder = async () => {
    while (performance.now() - td < opts.seconds * 1000) await prepare(frames[decoded++ % frames.length]?.data ?? Buffer.alloc(0), m.input);
  };
  await Promise.all(Array.from({ length: availableParallelism() }, decoder));
  const decodeRate = decoded / ((performance.now() - td) / 1000);

  // Pipeline: a real station writing a real store (images + rows), closed loop at maxInFlight.
  const dir = mkdtempSync(join(tmpdir(), 'loupe-bench-'));
  const cfg = parseConfig({ gateway: { dataDir: dir }, store: { synchronous: opts.durable ? 'full' : 'normal', fsyncImages: opts.durable }, stations: [{ id: 'bench', trigger: { type: 'api' }, model: modelCfg, policy: { auditRate: 0 } }] }, 'bench');
  const store = openStore(cfg.store, log);
  const detector = await Detector.load(modelCfg, log);
  const scfg = cfg.stations[0];
  if (!scfg) throw new Error('no station');
  const station = new Station(scfg, { source: new RecordedFrames(frames), detector, thresholds: resolveThresholds(scfg.policy, detector.manifest.thresholds), store, metrics: new Metrics(), log });
  await station.start();
  for (let i = 0; i < 20; i++) await station.trigger({ via: 'api' });
  const done: Inspection[] = [];
  const t1 = performance.now();
  const worker = async () => {
    while (performance.now() - t1 < opts.seconds * 1000) done.push(await station.trigger({ via: 'api' }));
  };
  await Promise.all(Array.from({ length: scfg.maxInFlight }, worker));
  const pipeRate = done.length / ((performance.now() - t1) / 1000);
  await station.stop(5000);
  await detector.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });

  const stages: PipelineFigures['stages'] = {};
  for (const k of ['decodeMs', 'preprocessMs', 'inferMs', 'decideMs', 'storeMs', 'totalMs'] as const) {
    const v = done.map((i) => i.timings[k] ?? 0);
    stages[k.replace('Ms', '')] = { p50: percentile(v, 50), p99: percentile(v, 99) };
  }
  return { bareInferencesPerSecond: bareRate, decodeFramesPerSecond: decodeRate, pipelinePartsPerSecond: pipeRate, ratio: pipeRate / bareRate, stages, parts: done.length };
}
