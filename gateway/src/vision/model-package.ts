import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LoupeError } from '../errors.js';
import { modelManifestSchema, type ModelManifest } from './manifest.js';
import { describeIssue } from '../config/issues.js';

/** A model package on disk: `model.onnx` + `model.json` in one folder. */
export interface ModelPackage {
  dir: string;
  manifest: ModelManifest;
  onnxPath: string;
  /** sha256 of model.onnx, hex: identifies exactly which weights made a verdict. */
  sha256: string;
}

export function loadModelPackage(dir: string): ModelPackage {
  const jsonPath = join(dir, 'model.json');
  const onnxPath = join(dir, 'model.onnx');
  for (const p of [jsonPath, onnxPath]) {
    if (!exists(p)) {
      throw new LoupeError('LOUPE_ERR_MODEL_MISSING', `${p} not found: point stations[].model.path at a folder holding model.onnx and model.json`, {
        details: { path: p },
      });
    }
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (err) {
    throw new LoupeError('LOUPE_ERR_MODEL_MANIFEST', `${jsonPath}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = modelManifestSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((i) => describeIssue(i, modelManifestSchema)).map((p) => `${jsonPath}: ${p.path}: ${p.message}`);
    throw new LoupeError('LOUPE_ERR_MODEL_MANIFEST', lines.join('\n'), { details: { path: jsonPath } });
  }
  const bytes = readFileSync(onnxPath);
  return { dir, manifest: parsed.data, onnxPath, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function exists(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
