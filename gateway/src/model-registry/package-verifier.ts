import type { Logger } from 'pino';
import sharp from 'sharp';
import type { ModelConfig } from '../config/sections/station.js';
import { errorMessage, isLoupeError, LoupeError } from '../errors.js';
import { Detector } from '../vision/detector.js';
import type { ModelManifest } from '../vision/manifest.js';
import { loadModelPackage } from '../vision/model-package.js';

/** Version strings become folder names in the registry: keep them to what every file system takes. */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** What verification measured, kept with the package. */
export interface PackageChecks {
  /** Execution provider the check ran on. */
  provider: string;
  /** Input size of the test frame. */
  testFrame: string;
  testDefectScore: number;
  testInferMs: number;
  findings: number;
}

export interface VerifiedPackage {
  manifest: ModelManifest;
  /** sha256 of model.onnx, hex. */
  sha256: string;
  checks: PackageChecks;
}

/**
 * Everything a package must pass before any station may run it, in order:
 * model.json valid, model.onnx matching the sha256 it came with, a session
 * that ONNX Runtime can create, tensors that match model.json, and one
 * inference on a plain test frame through the same decode, preprocessing
 * and output adapter a part takes, giving finite scores in 0..1.
 *
 * Throws the LoupeError of the first check that fails; the caller turns it
 * into a refusal.
 */
export async function verifyPackage(dir: string, opts: { expectedSha256: string | null; log: Logger }): Promise<VerifiedPackage> {
  const pkg = loadModelPackage(dir);
  const m = pkg.manifest;
  if (!VERSION_PATTERN.test(m.version)) {
    throw new LoupeError('LOUPE_ERR_MODEL_MANIFEST', `model.json: version "${m.version}" must be letters, digits and . _ + -, up to 64, starting with a letter or digit`);
  }
  if (opts.expectedSha256 !== null && pkg.sha256 !== opts.expectedSha256.toLowerCase()) {
    throw new LoupeError('LOUPE_ERR_MODEL_HASH', `model.onnx has sha256 ${pkg.sha256}, the package came with ${opts.expectedSha256}: it was corrupted or altered on the way`, {
      details: { expected: opts.expectedSha256, actual: pkg.sha256 },
    });
  }
  // CPU and one thread: every gateway has it, and a check must not take cores from the line.
  const cfg: ModelConfig = { path: dir, providers: ['cpu'], intraOpThreads: 1, warmupRuns: 0 };
  const detector = await Detector.load(cfg, opts.log);
  try {
    const frame = await testFrame(m);
    const t0 = performance.now();
    let result;
    try {
      result = (await detector.detect(frame)).result;
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_MODEL_TEST_INFERENCE', `test inference failed: ${errorMessage(err)}`, { cause: err });
    }
    const inferMs = performance.now() - t0;
    const bad = [result.defectScore, ...result.findings.map((f) => f.score)].filter((v) => !Number.isFinite(v) || v < 0 || v > 1);
    if (bad.length > 0) {
      throw new LoupeError('LOUPE_ERR_MODEL_TEST_INFERENCE', `test inference gave scores outside 0..1 (${bad.slice(0, 3).join(', ')}): check outputs.activation in model.json`);
    }
    return {
      manifest: m,
      sha256: pkg.sha256,
      checks: { provider: detector.provider, testFrame: `${m.input.width}x${m.input.height} grey`, testDefectScore: result.defectScore, testInferMs: Math.round(inferMs * 10) / 10, findings: result.findings.length },
    };
  } finally {
    await detector.close();
  }
}

/** A mid-grey PNG at the model's input size: decodes everywhere and exercises the whole frame path. */
function testFrame(m: ModelManifest): Promise<Buffer> {
  return sharp({ create: { width: m.input.width, height: m.input.height, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toBuffer();
}

/** The error code a refusal reports as its reason. */
export function refusalReason(err: unknown): string {
  return isLoupeError(err) ? err.code : 'LOUPE_ERR_MODEL_PACKAGE';
}
