import type { GroundTruth } from '../../inspect/inspection.js';
import { createCanvas } from './canvas.js';
import type { DefectKind } from './defects.js';
import { DEFECT_KINDS, drawDefect } from './defects.js';
import { paintFlange, sampleFlange, sampleLighting } from './flange.js';
import type { Random } from './prng.js';
import { hashSeed, mulberry32, pick } from './prng.js';

export { DEFECT_KINDS } from './defects.js';
export type { DefectKind } from './defects.js';

/** Label of a part without defects. */
export const GOOD_LABEL = 'good';

/** Every label the synthetic line emits, `good` first, then DEFECT_KINDS. */
export const PART_LABELS = [GOOD_LABEL, ...DEFECT_KINDS] as const;

export interface SyntheticOptions {
  /** Seed of the whole line; part `index` of one seed always looks the same. Default 1. */
  seed?: number;
  /** Frame width in pixels. Default 256. */
  widthPx?: number;
  /** Frame height in pixels. Default 256. */
  heightPx?: number;
  /** Probability 0..1 that a part carries a defect. Default 0.3. */
  defectRate?: number;
  /** Defect kinds to draw from, uniformly. Default all of DEFECT_KINDS. */
  defectKinds?: readonly DefectKind[];
  /** Lighting drift: multiplies every pixel. Default 1. */
  brightness?: number;
  /** Lighting drift: per-channel [r, g, b] multipliers. Default [1, 1, 1]. */
  tint?: readonly [number, number, number];
}

export interface RenderedPart {
  /** Raw RGB, 3 bytes per pixel, row-major, `width * height * 3` bytes. */
  rgb: Uint8Array;
  width: number;
  height: number;
  truth: GroundTruth;
  /** `width * height` bytes, 255 on defect pixels, 0 elsewhere. */
  mask: Uint8Array;
}

/** Renders part `index` of the line: a pure function of (options, index). */
export function renderPart(index: number, options: SyntheticOptions = {}): RenderedPart {
  const width = options.widthPx ?? 256;
  const height = options.heightPx ?? 256;
  const kinds = options.defectKinds ?? DEFECT_KINDS;
  const random = mulberry32(hashSeed(options.seed ?? 1, index));

  const flange = sampleFlange(random, width, height);
  const light = sampleLighting(random, flange);
  const defective = kinds.length > 0 && random() < (options.defectRate ?? 0.3);
  const kind = defective ? pick(random, kinds) : null;
  if (kind === 'missing_hole') flange.undrilled = Math.floor(random() * flange.holes.length);

  const canvas = createCanvas(width, height);
  paintFlange(canvas, random, flange, light);
  if (kind !== null) drawDefect(canvas, random, kind, flange, light);

  const rgb = finish(canvas.rgb, random, options);
  const truth: GroundTruth =
    kind === null ? { label: GOOD_LABEL, defects: [] } : { label: kind, defects: [{ kind, box: maskBox(canvas.mask, width, height) }] };
  return { rgb, width, height, truth, mask: canvas.mask };
}

/** Lighting drift and sensor noise, then 8-bit quantisation. */
function finish(rgb: Float32Array, random: Random, options: SyntheticOptions): Uint8Array {
  const brightness = options.brightness ?? 1;
  const [tr, tg, tb] = options.tint ?? [1, 1, 1];
  const gains = [brightness * tr, brightness * tg, brightness * tb];
  const sigma = 2 + random() * 3;
  const out = new Uint8Array(rgb.length);
  for (let o = 0; o < rgb.length; o += 3) {
    // Triangular noise (sum of two uniforms) is close enough to Gaussian for a sensor.
    const n = (random() + random() - 1) * sigma * 2.45;
    for (let ch = 0; ch < 3; ch++) {
      const v = rgb[o + ch]! * gains[ch]! + n;
      out[o + ch] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
    }
  }
  return out;
}

function maskBox(mask: Uint8Array, width: number, height: number): GroundTruth['defects'][number]['box'] {
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x] === 0) continue;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  if (maxX < 0) return { x: 0, y: 0, w: 0, h: 0 };
  return { x: minX / width, y: minY / height, w: (maxX + 1 - minX) / width, h: (maxY + 1 - minY) / height };
}
