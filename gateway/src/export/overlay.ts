import sharp, { type Metadata, type OverlayOptions as SharpLayer } from 'sharp';
import { LoupeError } from '../errors.js';
import type { Box, Finding, GroundTruth, HeatMap } from '../inspect/inspection.js';

export interface OverlayOptions {
  /** Draw the ground truth boxes too (synthetic line only), dashed. */
  truth: boolean;
  /** Scale the result to this width (keeps the aspect ratio); omitted = the frame's own size. */
  width?: number | undefined;
  /** Draw findings at all (false gives a plain, possibly scaled, image: thumbnails). */
  findings: boolean;
}

export interface RenderedImage {
  data: Buffer;
  contentType: 'image/jpeg' | 'image/png';
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A heat map as RGBA at its grid size: transparent where cold, red to yellow and more opaque where hot. */
function heatRgba(h: HeatMap): Buffer {
  const cells = Buffer.from(h.data, 'base64');
  const out = Buffer.alloc(h.width * h.height * 4);
  for (let k = 0; k < h.width * h.height; k++) {
    const v = (cells[k] ?? 0) / 255;
    out[k * 4] = 255;
    out[k * 4 + 1] = Math.round(220 * v);
    out[k * 4 + 2] = 0;
    out[k * 4 + 3] = v < 0.08 ? 0 : Math.round(40 + 150 * v);
  }
  return out;
}

function boxSvg(b: Box, w: number, h: number, colour: string, label: string, dashed: boolean): string {
  const x = b.x * w;
  const y = b.y * h;
  const stroke = Math.max(2, Math.round(Math.min(w, h) / 200));
  const font = Math.max(11, Math.round(Math.min(w, h) / 22));
  const ty = y > font + 4 ? y - 4 : y + b.h * h + font;
  return (
    `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(b.w * w).toFixed(1)}" height="${(b.h * h).toFixed(1)}" fill="none" stroke="${colour}" stroke-width="${stroke}"${dashed ? ` stroke-dasharray="${stroke * 3},${stroke * 2}"` : ''}/>` +
    `<text x="${x.toFixed(1)}" y="${ty.toFixed(1)}" font-family="sans-serif" font-size="${font}" fill="${colour}" stroke="#000" stroke-width="0.6" paint-order="stroke">${esc(label)}</text>`
  );
}

/**
 * The frame with what the model saw drawn on it: heat maps blended in,
 * boxes with label and score, and optionally the ground truth. Rendered on
 * the server with sharp (libvips), so every client gets the same picture.
 */
export async function renderOverlay(image: Buffer, findings: readonly Finding[], truth: GroundTruth | null, o: OverlayOptions): Promise<RenderedImage> {
  let meta: Metadata;
  try {
    meta = await sharp(image).metadata();
  } catch (err) {
    throw new LoupeError('LOUPE_ERR_IMAGE_UNREADABLE', `stored image cannot be decoded: ${(err as Error).message}`, { cause: err });
  }
  const w = meta.autoOrient?.width ?? meta.width ?? 0;
  const h = meta.autoOrient?.height ?? meta.height ?? 0;
  const layers: SharpLayer[] = [];
  if (o.findings && w > 0 && h > 0) {
    for (const f of findings) {
      const hm = f.heatMap;
      if (!hm || hm.width <= 0 || hm.height <= 0) continue;
      // The grid covers `region` of the frame; clip it to the frame.
      const left = Math.max(0, Math.round(hm.region.x * w));
      const top = Math.max(0, Math.round(hm.region.y * h));
      const rw = Math.min(w - left, Math.round(hm.region.w * w));
      const rh = Math.min(h - top, Math.round(hm.region.h * h));
      if (rw <= 0 || rh <= 0) continue;
      const input = await sharp(heatRgba(hm), { raw: { width: hm.width, height: hm.height, channels: 4 } })
        .resize(rw, rh, { fit: 'fill', kernel: 'linear' })
        .png()
        .toBuffer();
      layers.push({ input, left, top });
    }
    const boxes = findings
      .filter((f) => f.box)
      .map((f) => boxSvg(f.box as Box, w, h, '#ff3b30', `${f.label} ${f.score.toFixed(2)}`, false));
    if (o.truth && truth) for (const d of truth.defects) boxes.push(boxSvg(d.box, w, h, '#34c759', `truth: ${d.kind}`, true));
    if (boxes.length > 0) layers.push({ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${boxes.join('')}</svg>`), left: 0, top: 0 });
  }
  try {
    let img = sharp(image).autoOrient();
    if (layers.length > 0) {
      // Composite at full size first (sharp would resize before compositing), lossless in between.
      const { data, info } = await img.composite(layers).raw().toBuffer({ resolveWithObject: true });
      img = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
    }
    if (o.width !== undefined && o.width < w) img = img.resize({ width: o.width });
    const jpeg = meta.format === 'jpeg';
    return { data: await (jpeg ? img.jpeg({ quality: 88 }) : img.png()).toBuffer(), contentType: jpeg ? 'image/jpeg' : 'image/png' };
  } catch (err) {
    throw new LoupeError('LOUPE_ERR_IMAGE_UNREADABLE', `overlay cannot be rendered: ${(err as Error).message}`, { cause: err });
  }
}
