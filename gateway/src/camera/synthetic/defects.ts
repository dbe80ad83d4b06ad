import type { Canvas, Region } from './canvas.js';
import { clamp01, regionAround } from './canvas.js';
import type { Flange, Lighting } from './flange.js';
import type { Random } from './prng.js';
import { pick, uniform } from './prng.js';

/** Defect kinds the synthetic line can produce, in the demo model's label order. */
export const DEFECT_KINDS = ['scratch', 'dent', 'crack', 'contamination', 'missing_hole'] as const;
export type DefectKind = (typeof DEFECT_KINDS)[number];

/**
 * One defect as a patch of the canvas: `alpha` says where it is (and becomes
 * the mask), `mul`/`add` recolour those pixels, `shade` adds light and shadow
 * that need not follow alpha (a dent's rim highlight).
 */
interface Patch {
  region: Region;
  alpha: Float32Array;
  shade?: Float32Array;
  mul: readonly [number, number, number];
  add: readonly [number, number, number];
}

/** Pixels count as defect in the mask above this alpha, on this much part surface. */
const MASK_ALPHA = 0.35;
const MASK_MATERIAL = 0.5;
/** A defect smaller than this many mask pixels is re-drawn elsewhere. */
const MIN_MASK_PX = 6;

function emptyPatch(region: Region): Patch {
  const n = Math.max(0, region.x1 - region.x0) * Math.max(0, region.y1 - region.y0);
  return { region, alpha: new Float32Array(n), mul: [1, 1, 1], add: [0, 0, 0] };
}

/** Anti-aliased polyline of half-width `hw` (px) into a fresh patch. */
function strokePatch(canvas: Canvas, pts: readonly { x: number; y: number }[], hw: number): Patch {
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const pad = hw + 1.5;
  const region = regionAround(canvas, Math.min(...xs) - pad, Math.min(...ys) - pad, Math.max(...xs) + pad, Math.max(...ys) + pad);
  const patch = emptyPatch(region);
  const pw = region.x1 - region.x0;
  for (let s = 0; s + 1 < pts.length; s++) {
    const a = pts[s]!;
    const b = pts[s + 1]!;
    const ex = b.x - a.x;
    const ey = b.y - a.y;
    const len2 = ex * ex + ey * ey || 1;
    const sx0 = Math.max(region.x0, Math.floor(Math.min(a.x, b.x) - pad));
    const sx1 = Math.min(region.x1, Math.ceil(Math.max(a.x, b.x) + pad));
    const sy0 = Math.max(region.y0, Math.floor(Math.min(a.y, b.y) - pad));
    const sy1 = Math.min(region.y1, Math.ceil(Math.max(a.y, b.y) + pad));
    for (let y = sy0; y < sy1; y++) {
      for (let x = sx0; x < sx1; x++) {
        const px = x + 0.5 - a.x;
        const py = y + 0.5 - a.y;
        const t = clamp01((px * ex + py * ey) / len2);
        const qx = px - t * ex;
        const qy = py - t * ey;
        const v = clamp01(hw + 0.5 - Math.sqrt(qx * qx + qy * qy));
        const i = (y - region.y0) * pw + (x - region.x0);
        // Max, not sum: joints of a polyline must not come out darker.
        if (v > patch.alpha[i]!) patch.alpha[i] = v;
      }
    }
  }
  return patch;
}

/** A point on the part surface, away from the outer edge and the bore. */
function surfacePoint(random: Random, f: Flange): { x: number; y: number } {
  const a = random() * Math.PI * 2;
  const r = uniform(random, f.boreRadius + 0.12 * f.radius, f.radius * 0.9);
  return { x: f.cx + Math.cos(a) * r, y: f.cy + Math.sin(a) * r };
}

function pixelScale(canvas: Canvas): number {
  return Math.min(canvas.width, canvas.height) / 256;
}

function scratch(canvas: Canvas, random: Random, f: Flange): Patch {
  const c = surfacePoint(random, f);
  const a = random() * Math.PI;
  const half = (f.radius * uniform(random, 0.3, 0.6)) / 2;
  const bend = uniform(random, -0.04, 0.04) * f.radius;
  const ux = Math.cos(a);
  const uy = Math.sin(a);
  const pts = [
    { x: c.x - ux * half, y: c.y - uy * half },
    { x: c.x - uy * bend, y: c.y + ux * bend },
    { x: c.x + ux * half, y: c.y + uy * half },
  ];
  const patch = strokePatch(canvas, pts, uniform(random, 0.9, 1.8) * pixelScale(canvas));
  // Most scratches catch the light; some cut through a coating and look dark.
  const delta = (random() < 0.7 ? 1 : -1) * uniform(random, 30, 80);
  return { ...patch, add: [delta, delta, delta] };
}

function crack(canvas: Canvas, random: Random, f: Flange): Patch {
  const from = random();
  let x: number;
  let y: number;
  let dir: number;
  if (from < 0.5) {
    const a = random() * Math.PI * 2;
    x = f.cx + Math.cos(a) * (f.radius - 0.5);
    y = f.cy + Math.sin(a) * (f.radius - 0.5);
    dir = a + Math.PI;
  } else if (from < 0.7) {
    const a = random() * Math.PI * 2;
    x = f.cx + Math.cos(a) * (f.boreRadius + 0.5);
    y = f.cy + Math.sin(a) * (f.boreRadius + 0.5);
    dir = a;
  } else {
    const drilled = f.holes.filter((_, i) => i !== f.undrilled);
    const h = pick(random, drilled);
    const a = random() * Math.PI * 2;
    x = h.x + Math.cos(a) * (f.holeRadius + 0.5);
    y = h.y + Math.sin(a) * (f.holeRadius + 0.5);
    dir = a;
  }
  const pts = [{ x, y }];
  const steps = 4 + Math.floor(random() * 6);
  for (let i = 0; i < steps; i++) {
    dir += uniform(random, -0.7, 0.7);
    const step = f.radius * uniform(random, 0.035, 0.08);
    x += Math.cos(dir) * step;
    y += Math.sin(dir) * step;
    pts.push({ x, y });
  }
  const patch = strokePatch(canvas, pts, uniform(random, 0.7, 1.2) * pixelScale(canvas));
  const keep = 1 - uniform(random, 0.45, 0.85);
  return { ...patch, mul: [keep, keep, keep] };
}

function dent(canvas: Canvas, random: Random, f: Flange, light: Lighting): Patch {
  const c = surfacePoint(random, f);
  const r = f.radius * uniform(random, 0.09, 0.18);
  const depth = uniform(random, 25, 60);
  const region = regionAround(canvas, c.x - r, c.y - r, c.x + r, c.y + r);
  const patch = emptyPatch(region);
  const shade = new Float32Array(patch.alpha.length);
  const pw = region.x1 - region.x0;
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const dx = (x + 0.5 - c.x) / r;
      const dy = (y + 0.5 - c.y) / r;
      const q = dx * dx + dy * dy;
      if (q >= 1) continue;
      const i = (y - region.y0) * pw + (x - region.x0);
      // Height -(1-q)^2: its slope along the light gives the lit and the shadowed flank.
      const slope = 4 * (1 - q) * (dx * light.dirX + dy * light.dirY);
      shade[i] = depth * (0.8 * slope - 0.7 * (1 - q) * (1 - q));
      patch.alpha[i] = clamp01((1 - q) * 3);
    }
  }
  return { ...patch, shade };
}

const STAINS: readonly (readonly [number, number, number])[] = [
  [0.78, 0.62, 0.32], // oil, amber
  [0.95, 0.55, 0.35], // rust
  [0.62, 0.58, 0.48], // dirt
  [0.7, 0.85, 0.95], // coolant film, bluish
];

function contamination(canvas: Canvas, random: Random, f: Flange): Patch {
  const c = surfacePoint(random, f);
  const r = f.radius * uniform(random, 0.08, 0.18);
  const harmonics = [2, 3, 5].map((k) => ({ k, amp: uniform(random, 0.05, 0.25), phase: random() * Math.PI * 2 }));
  const region = regionAround(canvas, c.x - r * 1.6, c.y - r * 1.6, c.x + r * 1.6, c.y + r * 1.6);
  const patch = emptyPatch(region);
  const pw = region.x1 - region.x0;
  const opacity = uniform(random, 0.4, 0.9);
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const dx = x + 0.5 - c.x;
      const dy = y + 0.5 - c.y;
      const th = Math.atan2(dy, dx);
      let edge = r;
      for (const h of harmonics) edge += r * h.amp * Math.sin(h.k * th + h.phase);
      const inside = clamp01((edge - Math.sqrt(dx * dx + dy * dy)) / 1.5);
      if (inside <= 0) continue;
      patch.alpha[(y - region.y0) * pw + (x - region.x0)] = inside * (0.75 + 0.25 * random());
    }
  }
  const stain = pick(random, STAINS);
  const mul = stain.map((s) => 1 - opacity * (1 - s)) as [number, number, number];
  return { ...patch, mul };
}

/** The undrilled hole itself is left out by paintFlange; this adds the marks around it. */
function missingHole(canvas: Canvas, random: Random, f: Flange): Patch {
  const h = f.holes[f.undrilled];
  if (h === undefined) throw new Error('missing_hole needs flange.undrilled set');
  const hr = f.holeRadius;
  const region = regionAround(canvas, h.x - hr - 2, h.y - hr - 2, h.x + hr + 2, h.y + hr + 2);
  const patch = emptyPatch(region);
  const shade = new Float32Array(patch.alpha.length);
  const pw = region.x1 - region.x0;
  // Sometimes the spot face was cut, sometimes the centre was punched, sometimes neither.
  const ring = random() < 0.6 ? (random() < 0.5 ? 1 : -1) * uniform(random, 6, 25) : 0;
  const punch = random() < 0.6 ? uniform(random, 15, 50) : 0;
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const d = Math.hypot(x + 0.5 - h.x, y + 0.5 - h.y);
      const i = (y - region.y0) * pw + (x - region.x0);
      patch.alpha[i] = clamp01(hr + 0.5 - d);
      shade[i] = ring * clamp01(1.2 - Math.abs(d - hr)) - punch * clamp01(hr * 0.25 + 0.5 - d);
    }
  }
  return { ...patch, shade };
}

function maskPixels(canvas: Canvas, patch: Patch): number {
  const { region, alpha } = patch;
  const pw = region.x1 - region.x0;
  let n = 0;
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      if (alpha[(y - region.y0) * pw + (x - region.x0)]! > MASK_ALPHA && canvas.material[y * canvas.width + x]! > MASK_MATERIAL) n++;
    }
  }
  return n;
}

function applyPatch(canvas: Canvas, patch: Patch): void {
  const { region, alpha, shade, mul, add } = patch;
  const { rgb, material, mask, width } = canvas;
  const pw = region.x1 - region.x0;
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const i = (y - region.y0) * pw + (x - region.x0);
      const p = y * width + x;
      const m = material[p]!;
      if (m <= 0) continue;
      const a = alpha[i]! * m;
      const s = (shade?.[i] ?? 0) * m;
      const o = p * 3;
      for (let ch = 0; ch < 3; ch++) {
        const v = rgb[o + ch]!;
        rgb[o + ch] = v + a * (v * (mul[ch]! - 1) + add[ch]!) + s;
      }
      if (alpha[i]! > MASK_ALPHA && m > MASK_MATERIAL) mask[p] = 255;
    }
  }
}

const drawers: Record<DefectKind, (canvas: Canvas, random: Random, f: Flange, light: Lighting) => Patch> = {
  scratch,
  dent,
  crack,
  contamination,
  missing_hole: missingHole,
};

/**
 * Draws one defect of `kind` on the painted part and marks it in the mask.
 * Re-draws it elsewhere when it would barely touch the part (a crack running
 * into a hole), so every defective part has a visible, non-empty mask.
 */
export function drawDefect(canvas: Canvas, random: Random, kind: DefectKind, f: Flange, light: Lighting): void {
  let patch = drawers[kind](canvas, random, f, light);
  for (let tries = 0; tries < 20 && maskPixels(canvas, patch) < MIN_MASK_PX; tries++) {
    patch = drawers[kind](canvas, random, f, light);
  }
  applyPatch(canvas, patch);
}
