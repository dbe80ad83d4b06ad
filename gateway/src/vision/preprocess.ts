import sharp from 'sharp';
import { LoupeError } from '../errors.js';
import type { ModelInputSpec } from './manifest.js';

/** How model-input pixels map back to the frame, so boxes land on the image the operator sees. */
export interface Geometry {
  srcWidth: number;
  srcHeight: number;
  /** Model-input pixels per source pixel. */
  scaleX: number;
  scaleY: number;
  /** Offset of the source image inside the model input, in input pixels (padding > 0, crop < 0). */
  offX: number;
  offY: number;
}

export interface Prepared {
  tensorData: Float32Array | Uint8Array;
  dims: [number, number, number, number];
  geometry: Geometry;
  /** Time spent decoding and resizing (sharp). */
  decodeMs: number;
  /** Time spent turning pixels into the tensor layout. */
  preprocessMs: number;
}

/**
 * Resize exactly as training did. The training data is packed through this
 * same function (vision/dataset-pack.ts), so train and serve cannot drift apart.
 */
export async function resizeForModel(buf: Buffer, width: number, height: number, gray = false): Promise<Buffer> {
  let img = sharp(buf, { failOn: 'error' }).removeAlpha().toColourspace(gray ? 'b-w' : 'srgb');
  img = img.resize(width, height, { fit: 'fill', kernel: 'lanczos3' });
  return img.raw().toBuffer();
}

/** Decode a frame and build the model's input tensor as the manifest describes. */
export async function prepare(frame: Buffer, spec: ModelInputSpec): Promise<Prepared> {
  const t0 = performance.now();
  const gray = spec.colorOrder === 'GRAY';
  let pixels: Buffer;
  let geometry: Geometry;
  try {
    const meta = await sharp(frame, { failOn: 'error' }).metadata();
    const sw = meta.autoOrient?.width ?? meta.width;
    const sh = meta.autoOrient?.height ?? meta.height;
    if (!sw || !sh) throw new Error('image has no size');
    ({ pixels, geometry } = await resize(frame, sw, sh, spec, gray));
  } catch (err) {
    throw new LoupeError('LOUPE_ERR_FRAME_DECODE', `frame is not a readable image: ${(err as Error).message}`, { cause: err });
  }
  const t1 = performance.now();
  const tensorData = toTensor(pixels, spec);
  const c = gray ? 1 : 3;
  const dims: Prepared['dims'] = spec.layout === 'NCHW' ? [1, c, spec.height, spec.width] : [1, spec.height, spec.width, c];
  return { tensorData, dims, geometry, decodeMs: t1 - t0, preprocessMs: performance.now() - t1 };
}

async function resize(frame: Buffer, sw: number, sh: number, spec: ModelInputSpec, gray: boolean): Promise<{ pixels: Buffer; geometry: Geometry }> {
  const W = spec.width;
  const H = spec.height;
  if (spec.resize === 'stretch') {
    return { pixels: await resizeForModel(frame, W, H, gray), geometry: { srcWidth: sw, srcHeight: sh, scaleX: W / sw, scaleY: H / sh, offX: 0, offY: 0 } };
  }
  const base = sharp(frame, { failOn: 'error' }).removeAlpha().toColourspace(gray ? 'b-w' : 'srgb');
  if (spec.resize === 'letterbox') {
    const s = Math.min(W / sw, H / sh);
    const nw = Math.max(1, Math.round(sw * s));
    const nh = Math.max(1, Math.round(sh * s));
    const left = Math.floor((W - nw) / 2);
    const top = Math.floor((H - nh) / 2);
    const v = spec.padValue;
    const pixels = await base
      .resize(nw, nh, { fit: 'fill', kernel: 'lanczos3' })
      .extend({ left, top, right: W - nw - left, bottom: H - nh - top, background: { r: v, g: v, b: v } })
      .raw()
      .toBuffer();
    return { pixels, geometry: { srcWidth: sw, srcHeight: sh, scaleX: nw / sw, scaleY: nh / sh, offX: left, offY: top } };
  }
  const s = Math.max(W / sw, H / sh);
  const nw = Math.max(W, Math.round(sw * s));
  const nh = Math.max(H, Math.round(sh * s));
  const left = Math.floor((nw - W) / 2);
  const top = Math.floor((nh - H) / 2);
  const pixels = await base
    .resize(nw, nh, { fit: 'fill', kernel: 'lanczos3' })
    .extract({ left, top, width: W, height: H })
    .raw()
    .toBuffer();
  return { pixels, geometry: { srcWidth: sw, srcHeight: sh, scaleX: nw / sw, scaleY: nh / sh, offX: -left, offY: -top } };
}

/** Interleaved 8-bit pixels (HWC) to the manifest's layout, channel order and normalisation. */
export function toTensor(pixels: Buffer, spec: ModelInputSpec): Float32Array | Uint8Array {
  const c = spec.colorOrder === 'GRAY' ? 1 : 3;
  const n = spec.width * spec.height;
  // Channel k of the tensor reads source channel order[k] (RGB from sharp).
  const order = spec.colorOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  if (spec.dtype === 'uint8') {
    if (spec.layout === 'NHWC' && spec.colorOrder !== 'BGR') return new Uint8Array(pixels.buffer, pixels.byteOffset, n * c);
    const out = new Uint8Array(n * c);
    for (let k = 0; k < c; k++) {
      const src = order[k] ?? k;
      for (let i = 0; i < n; i++) out[spec.layout === 'NCHW' ? k * n + i : i * c + k] = pixels[i * c + src] ?? 0;
    }
    return out;
  }
  const out = new Float32Array(n * c);
  for (let k = 0; k < c; k++) {
    const src = order[k] ?? k;
    const std = spec.std[k] ?? spec.std[0] ?? 1;
    const a = spec.scale / std;
    const b = -(spec.mean[k] ?? spec.mean[0] ?? 0) / std;
    if (spec.layout === 'NCHW') {
      const base = k * n;
      for (let i = 0; i < n; i++) out[base + i] = (pixels[i * c + src] as number) * a + b;
    } else {
      for (let i = 0; i < n; i++) out[i * c + k] = (pixels[i * c + src] as number) * a + b;
    }
  }
  return out;
}

/** Map a box in model-input pixels (x, y, w, h) to normalised frame coordinates, clipped to the frame. */
export function toFrameBox(g: Geometry, x: number, y: number, w: number, h: number): { x: number; y: number; w: number; h: number } {
  const clip = (v: number) => Math.min(1, Math.max(0, v));
  const x0 = clip((x - g.offX) / g.scaleX / g.srcWidth);
  const y0 = clip((y - g.offY) / g.scaleY / g.srcHeight);
  const x1 = clip((x + w - g.offX) / g.scaleX / g.srcWidth);
  const y1 = clip((y + h - g.offY) / g.scaleY / g.srcHeight);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}
