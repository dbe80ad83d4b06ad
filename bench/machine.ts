import { cpus, totalmem } from 'node:os';
import { ortVersion } from '../gateway/src/vision/execution-providers.js';

/** The machine a figure was measured on: printed before any figure. */
export function describeMachine(): string {
  const cpu = cpus();
  return [
    `cpu      ${cpu[0]?.model ?? 'unknown'} x ${cpu.length}`,
    `memory   ${Math.round(totalmem() / 2 ** 30)} GiB`,
    `node     ${process.version}`,
    `ort      onnxruntime-node ${ortVersion}`,
    `platform ${process.platform}-${process.arch}`,
  ].join('\n');
}

/** p-th percentile (0..100) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
}
