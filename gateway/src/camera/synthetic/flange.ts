import type { Canvas } from './canvas.js';
import { clamp01 } from './canvas.js';
import type { Random } from './prng.js';
import { uniform } from './prng.js';

/**
 * The part: a turned steel flange with a centre bore and a ring of bolt
 * holes, lying on a dark conveyor belt. Sizes scale with the frame so the
 * same seed looks alike at any resolution.
 */

const BOLT_HOLE_COUNT = 6;

export interface Flange {
  cx: number;
  cy: number;
  radius: number;
  boreRadius: number;
  holeRing: number;
  holeRadius: number;
  /** All hole centres, including one left undrilled (see `undrilled`). */
  holes: { x: number; y: number }[];
  /** Index into `holes` of the hole that was never drilled, or -1. */
  undrilled: number;
}

/** Light as seen on the frame: an in-plane direction, a gradient and one specular spot. */
export interface Lighting {
  dirX: number;
  dirY: number;
  /** Relative brightness change across the part along the light direction. */
  gradient: number;
  /** Base grey of the metal before gradient and texture. */
  metalLevel: number;
  specX: number;
  specY: number;
  specAmp: number;
  specSigma: number;
}

export function sampleFlange(random: Random, width: number, height: number): Flange {
  const size = Math.min(width, height);
  const radius = size * 0.36 * uniform(random, 0.92, 1.06);
  const cx = width / 2 + uniform(random, -0.07, 0.07) * size;
  const cy = height / 2 + uniform(random, -0.07, 0.07) * size;
  const rotation = random() * Math.PI * 2;
  const holeRing = radius * 0.68;
  const holes = [];
  for (let i = 0; i < BOLT_HOLE_COUNT; i++) {
    const a = rotation + (i * Math.PI * 2) / BOLT_HOLE_COUNT;
    holes.push({ x: cx + Math.cos(a) * holeRing, y: cy + Math.sin(a) * holeRing });
  }
  return { cx, cy, radius, boreRadius: radius * 0.3, holeRing, holeRadius: radius * 0.095, holes, undrilled: -1 };
}

export function sampleLighting(random: Random, flange: Flange): Lighting {
  const a = random() * Math.PI * 2;
  const sa = random() * Math.PI * 2;
  const sr = flange.radius * uniform(random, 0.35, 0.85);
  return {
    dirX: Math.cos(a),
    dirY: Math.sin(a),
    gradient: uniform(random, 0.05, 0.28),
    metalLevel: uniform(random, 150, 185),
    specX: flange.cx + Math.cos(sa) * sr,
    specY: flange.cy + Math.sin(sa) * sr,
    specAmp: uniform(random, 10, 55),
    specSigma: flange.radius * uniform(random, 0.1, 0.22),
  };
}

/** Smoothed 1-D noise table: the lathe rings and brush streaks are lookups into it. */
function streakTable(random: Random, length: number, smooth: number): Float32Array {
  const raw = new Float32Array(length);
  for (let i = 0; i < length; i++) raw[i] = random() * 2 - 1;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    let s = 0;
    for (let k = -smooth; k <= smooth; k++) s += raw[(i + k + length) % length]!;
    out[i] = (s / (2 * smooth + 1)) * Math.sqrt(2 * smooth + 1);
  }
  return out;
}

const BELT = [38, 41, 40] as const;
const METAL_TINT = [0.98, 1.0, 1.04] as const;
const CHAMFER_PX = 2.2;

/** Paints the conveyor, then the flange with its holes, into `canvas`. */
export function paintFlange(canvas: Canvas, random: Random, flange: Flange, light: Lighting): void {
  const { width, height, rgb, material } = canvas;
  const size = Math.min(width, height);

  // Conveyor: belt weave runs along x, so its texture varies mostly by row.
  const beltRows = streakTable(random, height, 1);
  const beltLevel = uniform(random, 0.8, 1.2);
  for (let y = 0; y < height; y++) {
    const row = beltLevel * (1 + 0.06 * beltRows[y]!);
    for (let x = 0; x < width; x++) {
      const vignette = 1 - 0.25 * (((x - width / 2) * light.dirX + (y - height / 2) * light.dirY) / size);
      const o = (y * width + x) * 3;
      rgb[o] = BELT[0] * row * vignette;
      rgb[o + 1] = BELT[1] * row * vignette;
      rgb[o + 2] = BELT[2] * row * vignette;
    }
  }

  const lathe = streakTable(random, 2048, 2);
  const brush = streakTable(random, 2048, 1);
  const latheAmp = uniform(random, 3, 9);
  const brushAmp = uniform(random, 1, 5);
  const brushAngle = random() * Math.PI;
  const bx = Math.cos(brushAngle);
  const by = Math.sin(brushAngle);
  const { cx, cy, radius: R, boreRadius, holeRing, holeRadius } = flange;
  const drilled = flange.holes.filter((_, i) => i !== flange.undrilled);
  const chamferAmp = uniform(random, 18, 40);
  const invR = 1 / R;
  const twoSigma2 = 2 * light.specSigma * light.specSigma;

  const y0 = Math.max(0, Math.floor(cy - R - 2));
  const y1 = Math.min(height, Math.ceil(cy + R + 2));
  const x0 = Math.max(0, Math.floor(cx - R - 2));
  const x1 = Math.min(width, Math.ceil(cx + R + 2));
  for (let y = y0; y < y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x < x1; x++) {
      const dx = x + 0.5 - cx;
      const r = Math.sqrt(dx * dx + dy * dy);
      if (r > R + 1) continue;
      const nx = r > 0 ? dx / r : 0;
      const ny = r > 0 ? dy / r : 0;
      let cover = clamp01(R - r + 0.5) * clamp01(r - boreRadius + 0.5);
      // Chamfers tilt the surface towards or away from the light.
      let tilt = 0;
      if (R - r < CHAMFER_PX) tilt += nx * light.dirX + ny * light.dirY;
      if (r - boreRadius < CHAMFER_PX) tilt -= nx * light.dirX + ny * light.dirY;
      if (Math.abs(r - holeRing) < holeRadius + CHAMFER_PX + 1) {
        for (const h of drilled) {
          const hx = x + 0.5 - h.x;
          const hy = y + 0.5 - h.y;
          const d = Math.sqrt(hx * hx + hy * hy);
          if (d > holeRadius + CHAMFER_PX + 1) continue;
          cover *= clamp01(d - holeRadius + 0.5);
          if (d - holeRadius < CHAMFER_PX && d > 0) tilt -= (hx * light.dirX + hy * light.dirY) / d;
        }
      }
      const p = y * width + x;
      const o = p * 3;
      // Through the bore and holes the belt lies in the part's shadow.
      if (cover < 1) {
        const shadow = 0.55;
        rgb[o] = rgb[o]! * shadow;
        rgb[o + 1] = rgb[o + 1]! * shadow;
        rgb[o + 2] = rgb[o + 2]! * shadow;
      }
      if (cover <= 0) continue;
      material[p] = cover;
      const along = (dx * light.dirX + dy * light.dirY) * invR;
      const sx = x - light.specX;
      const sy = y - light.specY;
      const spec = light.specAmp * Math.exp(-(sx * sx + sy * sy) / twoSigma2);
      const ringIdx = Math.floor((r * 4 * 256) / size) & 2047;
      const brushIdx = Math.floor(((dx * by - dy * bx) * 3 * 256) / size + 1024) & 2047;
      const shade =
        light.metalLevel * (1 + light.gradient * along) +
        latheAmp * lathe[ringIdx]! +
        brushAmp * brush[brushIdx]! +
        chamferAmp * tilt +
        spec;
      rgb[o] = rgb[o]! * (1 - cover) + shade * METAL_TINT[0] * cover;
      rgb[o + 1] = rgb[o + 1]! * (1 - cover) + shade * METAL_TINT[1] * cover;
      rgb[o + 2] = rgb[o + 2]! * (1 - cover) + shade * METAL_TINT[2] * cover;
    }
  }
}
