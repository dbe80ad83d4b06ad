import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { ModelConfig } from '../config/sections/station.js';
import { LoupeError } from '../errors.js';
import { outputAdapters } from './adapters/index.js';
import type { ModelResult, OutputAdapter } from './adapters/output-adapter.js';
import { checkTensors, outputNames } from './check-tensors.js';
import { createSession } from './execution-providers.js';
import type { ModelManifest } from './manifest.js';
import { loadModelPackage, type ModelPackage } from './model-package.js';
import { prepare } from './preprocess.js';

export interface Detection {
  result: ModelResult;
  decodeMs: number;
  preprocessMs: number;
  inferMs: number;
}

/**
 * One loaded model package: frame bytes in, findings out. The only place
 * that knows tensors; stations see `ModelResult`.
 */
export class Detector {
  private constructor(
    readonly pkg: ModelPackage,
    private readonly session: ort.InferenceSession,
    /** Execution provider that runs the model (cuda, tensorrt or cpu). */
    readonly provider: string,
  ) {}

  static async load(cfg: ModelConfig, log: Logger): Promise<Detector> {
    const pkg = loadModelPackage(cfg.path);
    const { session, provider } = await createSession(pkg.onnxPath, cfg.providers, { intraOpThreads: cfg.intraOpThreads, log });
    try {
      checkTensors(session, pkg.manifest, pkg.onnxPath);
    } catch (err) {
      await session.release();
      throw err;
    }
    const d = new Detector(pkg, session, provider);
    const t0 = performance.now();
    for (let i = 0; i < cfg.warmupRuns; i++) await d.runTensor(blankInput(pkg.manifest));
    log.info(
      { model: pkg.manifest.id, version: pkg.manifest.version, provider, sha256: pkg.sha256.slice(0, 12), warmupMs: Math.round(performance.now() - t0) },
      `model ${pkg.manifest.id}@${pkg.manifest.version} running on ${provider.toUpperCase()}`,
    );
    return d;
  }

  get manifest(): ModelManifest {
    return this.pkg.manifest;
  }

  /** Decode, preprocess, infer and read the outputs of one frame. */
  async detect(frame: Buffer): Promise<Detection> {
    const prepared = await prepare(frame, this.manifest.input);
    const t0 = performance.now();
    const tensor = new ort.Tensor(this.manifest.input.dtype, prepared.tensorData, prepared.dims);
    const outputs = await this.runTensor(tensor);
    const inferMs = performance.now() - t0;
    const spec = this.manifest.outputs;
    const adapter = outputAdapters[spec.task] as OutputAdapter;
    const result = adapter(outputs, spec, this.manifest, prepared.geometry);
    return { result, decodeMs: prepared.decodeMs, preprocessMs: prepared.preprocessMs, inferMs };
  }

  /** The bare ONNX Runtime call (benchmarks compare the pipeline against it). */
  async runTensor(input: ort.Tensor): Promise<Record<string, ort.Tensor>> {
    try {
      return await this.session.run({ [this.manifest.input.name]: input }, outputNames(this.manifest));
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_INFERENCE', `inference failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** A mid-grey input of the right shape, for warm-up and benchmarks. */
export function blankInput(m: ModelManifest): ort.Tensor {
  const c = m.input.colorOrder === 'GRAY' ? 1 : 3;
  const n = c * m.input.width * m.input.height;
  const dims = m.input.layout === 'NCHW' ? [1, c, m.input.height, m.input.width] : [1, m.input.height, m.input.width, c];
  return m.input.dtype === 'uint8' ? new ort.Tensor('uint8', new Uint8Array(n).fill(128), dims) : new ort.Tensor('float32', new Float32Array(n).fill(0.5), dims);
}
