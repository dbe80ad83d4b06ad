import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Detector } from '../../gateway/src/vision/detector.js';
import { silentLog } from '../helpers/test-config.js';

/** A PNG of `w` x `h` grey 128 with filled squares drawn in. See test/fixtures/models/README.md for what each model computes. */
async function image(w: number, h: number, squares: { x: number; y: number; size: number; rgb: [number, number, number] }[] = [], base: [number, number, number] = [128, 128, 128]): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set(base, i * 3);
  for (const s of squares) for (let y = s.y; y < s.y + s.size; y++) for (let x = s.x; x < s.x + s.size; x++) px.set(s.rgb, (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

const load = (name: string) => Detector.load({ path: `test/fixtures/models/${name}`, providers: ['cpu'], intraOpThreads: 1, warmupRuns: 1 }, silentLog);

describe('output adapters on real ONNX models', () => {
  it('classification: softmax scores per label, defect score 1 - P(good), most likely defect first', async () => {
    const d = await load('classification');
    try {
      const red = await d.detect(await image(64, 64, [], [255, 0, 0]));
      expect(red.result.findings.map((f) => f.label)).toEqual(['red', 'blue']);
      expect(red.result.findings[0]?.score).toBeCloseTo(0.9997, 3);
      expect(red.result.defectScore).toBeCloseTo(0.9997, 3);
      const grey = await d.detect(await image(64, 64));
      expect(grey.result.defectScore).toBeCloseTo(1 - 0.787, 2);
      expect(grey.result.findings[0]?.score).toBeCloseTo(0.1065, 2);
      expect(grey.inferMs).toBeGreaterThan(0);
    } finally {
      await d.close();
    }
  });

  it('anomaly: normalises score and map as anomalib does and outlines the anomalous region', async () => {
    const d = await load('anomaly');
    try {
      const normal = await d.detect(await image(64, 64));
      expect(normal.result.defectScore).toBeCloseTo(0.304, 2);
      expect(normal.result.findings[0]?.box).toBeUndefined();
      const hm = normal.result.findings[0]?.heatMap;
      expect(hm).toMatchObject({ width: 32, height: 32, region: { x: 0, y: 0, w: 1, h: 1 } });

      const odd = await d.detect(await image(64, 64, [{ x: 16, y: 32, size: 16, rgb: [255, 255, 255] }]));
      const f = odd.result.findings[0];
      expect(f?.label).toBe('anomaly');
      expect(odd.result.defectScore).toBeCloseTo(1, 3);
      // The square covers x 16..32, y 32..48 of 64: the box is that, give or take the resampling edge.
      expect(f?.box?.x).toBeCloseTo(0.25, 1);
      expect(f?.box?.y).toBeCloseTo(0.5, 1);
      expect(f?.box?.w).toBeCloseTo(0.25, 1);
      expect(f?.box?.h).toBeCloseTo(0.25, 1);
      const cells = Buffer.from(f?.heatMap?.data ?? '', 'base64');
      expect(cells[20 * 32 + 12]).toBe(255); // inside the square
      expect(cells[2 * 32 + 2]).toBeLessThan(100); // far from it
    } finally {
      await d.close();
    }
  });

  it('detection: decodes YOLOv8 output, suppresses overlapping candidates, and maps letterboxed boxes back to the frame', async () => {
    const d = await load('detection');
    try {
      expect((await d.detect(await image(128, 64))).result).toEqual({ findings: [], defectScore: 0 });
      // A 128x64 frame letterboxes into 64x64 at half scale with 16 px bands above and below:
      // frame squares of 32 px at (52, 4) and (84, 20) become 16 px squares at (26, 18) and (42, 26) on the candidate grid.
      const r = await d.detect(
        await image(128, 64, [
          { x: 52, y: 4, size: 32, rgb: [255, 255, 255] },
          { x: 84, y: 20, size: 32, rgb: [0, 0, 0] },
        ]),
      );
      expect(r.result.findings.map((f) => f.label).sort()).toEqual(['bright', 'dark']);
      const bright = r.result.findings.find((f) => f.label === 'bright');
      const dark = r.result.findings.find((f) => f.label === 'dark');
      expect(bright?.score).toBeGreaterThan(0.9);
      expect(bright?.box?.x).toBeCloseTo(52 / 128, 2);
      expect(bright?.box?.y).toBeCloseTo(4 / 64, 2);
      expect(bright?.box?.w).toBeCloseTo(32 / 128, 2);
      expect(bright?.box?.h).toBeCloseTo(32 / 64, 2);
      expect(dark?.box?.x).toBeCloseTo(84 / 128, 2);
      expect(dark?.box?.y).toBeCloseTo(20 / 64, 2);
      expect(r.result.defectScore).toBe(Math.max(bright?.score ?? 0, dark?.score ?? 0));
    } finally {
      await d.close();
    }
  });

  it('refuses a frame that is not an image with LOUPE_ERR_FRAME_DECODE', async () => {
    const d = await load('classification');
    try {
      await expect(d.detect(Buffer.from('not an image at all'))).rejects.toMatchObject({ code: 'LOUPE_ERR_FRAME_DECODE' });
      const png = await image(32, 32);
      await expect(d.detect(png.subarray(0, png.length / 2))).rejects.toMatchObject({ code: 'LOUPE_ERR_FRAME_DECODE' });
    } finally {
      await d.close();
    }
  });
});
