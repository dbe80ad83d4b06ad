import type { Tensor } from 'onnxruntime-node';
import type { Finding } from '../../inspect/inspection.js';
import type { ModelManifest, ModelOutputSpec } from '../manifest.js';
import type { Geometry } from '../preprocess.js';

/** What a model said about one frame, in the gateway's terms. */
export interface ModelResult {
  /** Defects the model reports, most confident first. */
  findings: Finding[];
  /** 0..1: how sure the model is that the part is defective (the policy's input). */
  defectScore: number;
}

export type Outputs = Record<string, Tensor>;

/** Turns one task's raw tensors into findings. One file per task, registered in index.ts. */
export type OutputAdapter<T extends ModelOutputSpec['task'] = ModelOutputSpec['task']> = (
  outputs: Outputs,
  spec: Extract<ModelOutputSpec, { task: T }>,
  manifest: ModelManifest,
  geometry: Geometry,
) => ModelResult;

export function floatData(outputs: Outputs, name: string): Float32Array {
  const t = outputs[name];
  if (!t) throw new Error(`model output "${name}" missing`);
  if (!(t.data instanceof Float32Array)) throw new Error(`model output "${name}" is ${t.type}, expected float32`);
  return t.data;
}
