/** Float working buffers a part is painted into before it becomes 8-bit RGB. */
export interface Canvas {
  width: number;
  height: number;
  /** RGB, 3 floats per pixel, nominally 0..255 (clamped only at the end). */
  rgb: Float32Array;
  /** 0..1: how much of each pixel is part surface (anti-aliased edges, 0 in holes). */
  material: Float32Array;
  /** 255 where a defect is drawn. */
  mask: Uint8Array;
}

export function createCanvas(width: number, height: number): Canvas {
  return {
    width,
    height,
    rgb: new Float32Array(width * height * 3),
    material: new Float32Array(width * height),
    mask: new Uint8Array(width * height),
  };
}

/** Pixel rectangle, inclusive of x0/y0, exclusive of x1/y1, clipped to the canvas. */
export interface Region {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function regionAround(canvas: Canvas, minX: number, minY: number, maxX: number, maxY: number): Region {
  return {
    x0: Math.max(0, Math.floor(minX)),
    y0: Math.max(0, Math.floor(minY)),
    x1: Math.min(canvas.width, Math.ceil(maxX) + 1),
    y1: Math.min(canvas.height, Math.ceil(maxY) + 1),
  };
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
