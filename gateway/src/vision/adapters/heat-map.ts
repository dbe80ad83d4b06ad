import type { Box, HeatMap } from '../../inspect/inspection.js';
import { toFrameBox, type Geometry } from '../preprocess.js';

/** Largest grid side stored with a finding: enough to draw, small enough for every row. */
const MAX_SIDE = 32;

/**
 * Max-pool a 0..1 map (model-input resolution or coarser) into at most
 * 32x32 bytes. Max, not mean, so a thin scratch does not fade away.
 */
export function encodeHeatMap(values: ArrayLike<number>, width: number, height: number, geometry: Geometry, inputW: number, inputH: number): HeatMap {
  const fx = Math.max(1, Math.ceil(width / MAX_SIDE));
  const fy = Math.max(1, Math.ceil(height / MAX_SIDE));
  const ow = Math.ceil(width / fx);
  const oh = Math.ceil(height / fy);
  const out = new Uint8Array(ow * oh);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = Math.min(1, Math.max(0, values[y * width + x] ?? 0));
      const i = Math.floor(y / fy) * ow + Math.floor(x / fx);
      const b = Math.round(v * 255);
      if (b > (out[i] ?? 0)) out[i] = b;
    }
  }
  return { width: ow, height: oh, region: coverage(geometry, inputW, inputH), data: Buffer.from(out).toString('base64') };
}

/** Frame region the model input covers. */
function coverage(g: Geometry, inputW: number, inputH: number): Box {
  return toFrameBox(g, 0, 0, inputW, inputH);
}

/** Bounding box (normalised, in the frame) of cells at or above `threshold`, or undefined. */
export function hotBox(values: ArrayLike<number>, width: number, height: number, threshold: number, geometry: Geometry, inputW: number, inputH: number): Box | undefined {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((values[y * width + x] ?? 0) >= threshold) {
        if (x < x0) x0 = x;
        if (y < y0) y0 = y;
        if (x > x1) x1 = x;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return undefined;
  const sx = inputW / width;
  const sy = inputH / height;
  return toFrameBox(geometry, x0 * sx, y0 * sy, (x1 - x0 + 1) * sx, (y1 - y0 + 1) * sy);
}
