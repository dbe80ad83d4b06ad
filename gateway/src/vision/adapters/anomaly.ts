import { encodeHeatMap, hotBox } from './heat-map.js';
import { floatData, type OutputAdapter } from './output-adapter.js';

/**
 * Anomaly detection as anomalib exports it: a raw anomaly map and image
 * score, normalised with anomalib's min-max rule so the threshold sits at 0.5.
 */
export const anomaly: OutputAdapter<'anomaly'> = (outputs, spec, manifest, geometry) => {
  const { imageThreshold, pixelThreshold, min, max } = spec.normalization;
  const range = max - min || 1;
  const norm = (v: number, threshold: number) => Math.min(1, Math.max(0, (v - threshold) / range + 0.5));
  const score = norm(floatData(outputs, spec.score)[0] ?? 0, imageThreshold);
  const t = outputs[spec.map];
  const dims = t?.dims ?? [];
  const h = Number(dims.at(-2) ?? 0);
  const w = Number(dims.at(-1) ?? 0);
  const map = Array.from(floatData(outputs, spec.map).subarray(0, w * h), (v) => norm(v, pixelThreshold));
  const box = hotBox(map, w, h, 0.5, geometry, manifest.input.width, manifest.input.height);
  return {
    findings: [
      {
        label: spec.anomalyLabel,
        score,
        heatMap: encodeHeatMap(map, w, h, geometry, manifest.input.width, manifest.input.height),
        ...(box ? { box } : {}),
      },
    ],
    defectScore: score,
  };
};
