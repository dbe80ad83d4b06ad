import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetSplit, maskToHeatMap, resizeForModel } from '../../gateway/src/vision/dataset-pack.js';

const spec = { width: 8, height: 8, heatMapWidth: 4, heatMapHeight: 4, labels: ['good', 'scratch'], source: 'test' };

function solidPng(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
}

/** 32x32 grey mask, all 0 except one pixel. */
function onePixelMask(x: number, y: number): Promise<Buffer> {
  const raw = new Uint8Array(32 * 32);
  raw[y * 32 + x] = 255;
  return sharp(raw, { raw: { width: 32, height: 32, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

describe('dataset packing', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loupe-dataset-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resizes any image to RGB at model resolution, alpha dropped', async () => {
    const rgba = await sharp({ create: { width: 40, height: 20, channels: 4, background: { r: 200, g: 10, b: 30, alpha: 1 } } })
      .png()
      .toBuffer();
    const pixels = await resizeForModel(rgba, 8, 6);
    expect(pixels.length).toBe(8 * 6 * 3);
    expect([...pixels.subarray(0, 3)]).toEqual([200, 10, 30]);
  });

  it('marks a heat-map cell as soon as one mask pixel in it is set', async () => {
    const heat = await maskToHeatMap(await onePixelMask(9, 30), 4, 4);
    expect([...heat].map((v, i) => (v ? i : -1)).filter((i) => i >= 0)).toEqual([3 * 4 + 1]);
    expect(heat[13]).toBe(255);
  });

  it('writes row-aligned images, masks and index, and meta.json on close', async () => {
    const split = await DatasetSplit.create(join(dir, 'train'), spec);
    await split.append(await solidPng(16, 16, [10, 20, 30]), 'good', { mask: await onePixelMask(0, 0), sourceRef: 'a.png' });
    await split.append(await solidPng(16, 16, [40, 50, 60]), 'scratch');
    const meta = await split.close();

    expect(meta).toMatchObject({ count: 2, width: 8, height: 8, heatMapWidth: 4, heatMapHeight: 4, classCounts: { good: 1, scratch: 1 } });
    const images = await readFile(join(dir, 'train', 'images.u8'));
    expect(images.length).toBe(2 * 8 * 8 * 3);
    expect([...images.subarray(8 * 8 * 3, 8 * 8 * 3 + 3)]).toEqual([40, 50, 60]);
    const masks = await readFile(join(dir, 'train', 'masks.u8'));
    expect(masks.length).toBe(2 * 16);
    expect(masks[0]).toBe(255);
    expect(masks.subarray(16).every((v) => v === 0)).toBe(true);
    const rows = (await readFile(join(dir, 'train', 'index.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toEqual([
      { label: 'good', classIndex: 0, sourceRef: 'a.png', hasMask: true },
      { label: 'scratch', classIndex: 1, sourceRef: null, hasMask: false },
    ]);
    expect(JSON.parse(await readFile(join(dir, 'train', 'meta.json'), 'utf8'))).toEqual(meta);
  });

  it('refuses a label that is not in the label list', async () => {
    const split = await DatasetSplit.create(join(dir, 'train'), spec);
    await expect(split.append(await solidPng(8, 8, [0, 0, 0]), 'dent')).rejects.toThrow(/dent/);
    await split.close();
  });
});
