import type { Finding } from '../../inspect/inspection.js';
import { toFrameBox } from '../preprocess.js';
import { floatData, type OutputAdapter } from './output-adapter.js';

interface Candidate {
  cls: number;
  score: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * YOLO-style detection as Ultralytics exports it (v8 and later): one output
 * [1, 4 + classes, candidates] of cx, cy, w, h (input pixels) and per-class
 * scores, no objectness, NMS left to us. Every class is a defect.
 */
export const detection: OutputAdapter<'detection'> = (outputs, spec, manifest, geometry) => {
  const data = floatData(outputs, spec.output);
  const dims = outputs[spec.output]?.dims ?? [];
  const rows = Number(dims[1] ?? 0);
  const n = Number(dims[2] ?? 0);
  const nc = rows - 4;
  const candidates: Candidate[] = [];
  for (let j = 0; j < n; j++) {
    let cls = 0;
    let score = -Infinity;
    for (let c = 0; c < nc; c++) {
      const s = data[(4 + c) * n + j] ?? 0;
      if (s > score) {
        score = s;
        cls = c;
      }
    }
    if (score < spec.minScore) continue;
    const cx = data[j] ?? 0;
    const cy = data[n + j] ?? 0;
    const w = data[2 * n + j] ?? 0;
    const h = data[3 * n + j] ?? 0;
    candidates.push({ cls, score, x: cx - w / 2, y: cy - h / 2, w, h });
  }
  const kept = nms(candidates, spec.iouThreshold).slice(0, spec.maxDetections);
  const findings: Finding[] = kept.map((c) => ({
    label: manifest.labels[c.cls] ?? `class-${c.cls}`,
    score: c.score,
    box: toFrameBox(geometry, c.x, c.y, c.w, c.h),
  }));
  return { findings, defectScore: findings[0]?.score ?? 0 };
};

/** Greedy per-class non-maximum suppression, most confident first. */
export function nms(cands: Candidate[], iouThreshold: number): Candidate[] {
  const sorted = [...cands].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.every((k) => k.cls !== c.cls || iou(k, c) <= iouThreshold)) kept.push(c);
  }
  return kept;
}

function iou(a: Candidate, b: Candidate): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}
