import type { Finding } from '../../inspect/inspection.js';
import { encodeHeatMap, hotBox } from './heat-map.js';
import { floatData, type OutputAdapter } from './output-adapter.js';

/** Cells at or above this heat (0..1) outline the defect's box. */
const HOT = 0.5;

/**
 * Image classification, optionally with a defect heat map head. The defect
 * score is 1 - P(good): it stays high when doubt is split between defect classes.
 */
export const classification: OutputAdapter<'classification'> = (outputs, spec, manifest, geometry) => {
  const raw = floatData(outputs, spec.scores);
  const probs = activate(Array.from(raw.subarray(raw.length - manifest.labels.length)), spec.activation);
  const goodIndex = manifest.labels.indexOf(manifest.goodLabel);
  const findings: Finding[] = manifest.labels
    .map((label, i) => ({ label, score: probs[i] ?? 0 }))
    .filter((_, i) => i !== goodIndex)
    .sort((a, b) => b.score - a.score);
  const defectScore =
    goodIndex >= 0 && spec.activation === 'softmax' ? 1 - (probs[goodIndex] ?? 0) : Math.max(0, ...findings.map((f) => f.score));

  const top = findings[0];
  if (spec.heatMap && top) {
    const t = outputs[spec.heatMap];
    const dims = t?.dims ?? [];
    const h = Number(dims.at(-2) ?? 0);
    const w = Number(dims.at(-1) ?? 0);
    if (w > 0 && h > 0) {
      const map = Array.from(floatData(outputs, spec.heatMap).subarray(0, w * h), (v) => (spec.heatMapActivation === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : v));
      top.heatMap = encodeHeatMap(map, w, h, geometry, manifest.input.width, manifest.input.height);
      const box = hotBox(map, w, h, HOT, geometry, manifest.input.width, manifest.input.height);
      if (box) top.box = box;
    }
  }
  return { findings, defectScore: clamp01(defectScore) };
};

function activate(v: number[], how: 'softmax' | 'sigmoid' | 'none'): number[] {
  if (how === 'sigmoid') return v.map((x) => 1 / (1 + Math.exp(-x)));
  if (how === 'none') return v;
  const max = Math.max(...v);
  const e = v.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}
