import { mkdir, open, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { resizeForModel } from './preprocess.js';

export { resizeForModel };

/**
 * Packs labelled images into the raw training format described in
 * models/training/README.md. Training reads it with numpy alone, and the
 * resize here is the very function the gateway's preprocessing calls, so a
 * model never sees pixels at serving time that were prepared differently.
 */

/**
 * Defect mask (any image, non-zero = defect) reduced to a coarse grid by
 * taking the maximum of each cell, so a one-pixel-wide crack still lights its cell.
 */
export async function maskToHeatMap(mask: Buffer, width: number, height: number): Promise<Uint8Array> {
  const { data, info } = await sharp(mask).removeAlpha().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(width * height);
  for (let y = 0; y < info.height; y++) {
    const row = Math.min(height - 1, Math.floor((y * height) / info.height)) * width;
    for (let x = 0; x < info.width; x++) {
      const v = data[y * info.width + x]!;
      const cell = row + Math.min(width - 1, Math.floor((x * width) / info.width));
      if (v > out[cell]!) out[cell] = v;
    }
  }
  return out;
}

export interface DatasetSpec {
  /** Model input width in pixels. */
  width: number;
  /** Model input height in pixels. */
  height: number;
  /** Heat-map grid width in cells. */
  heatMapWidth: number;
  /** Heat-map grid height in cells. */
  heatMapHeight: number;
  /** Class labels; a sample's class index is its label's position here. */
  labels: readonly string[];
  /** Free text stored in meta.json: where the images came from. */
  source: string;
}

export interface SampleOptions {
  /** Defect mask image, same framing as the image; absent means "not annotated", not "no defect". */
  mask?: Buffer;
  /** File name, URL or synthetic index, kept in index.jsonl for tracing a sample back. */
  sourceRef?: string;
}

export interface SplitMeta {
  format: 'loupe-dataset';
  formatVersion: 1;
  count: number;
  width: number;
  height: number;
  channels: 3;
  layout: 'NHWC';
  colorOrder: 'RGB';
  heatMapWidth: number;
  heatMapHeight: number;
  heatMapReduce: 'max';
  labels: string[];
  classCounts: Record<string, number>;
  source: string;
  createdAt: string;
}

/** One split (train, val or test) being written: images.u8, masks.u8, index.jsonl, then meta.json on close(). */
export class DatasetSplit {
  private count = 0;
  private readonly classCounts: Record<string, number>;

  private constructor(
    private readonly dir: string,
    private readonly spec: DatasetSpec,
    private readonly images: FileHandle,
    private readonly masks: FileHandle,
    private readonly index: FileHandle,
  ) {
    this.classCounts = Object.fromEntries(spec.labels.map((l) => [l, 0]));
  }

  /** Creates `dir` and empty split files in it, replacing any split already there. */
  static async create(dir: string, spec: DatasetSpec): Promise<DatasetSplit> {
    await mkdir(dir, { recursive: true });
    const [images, masks, index] = await Promise.all(
      ['images.u8', 'masks.u8', 'index.jsonl'].map((name) => open(join(dir, name), 'w')),
    );
    return new DatasetSplit(dir, spec, images!, masks!, index!);
  }

  get size(): number {
    return this.count;
  }

  /**
   * Appends one encoded image (JPEG, PNG, ...) with its label and optional
   * mask. Call it one sample at a time (await each): the three files stay row-aligned.
   */
  async append(image: Buffer, label: string, options: SampleOptions = {}): Promise<void> {
    const classIndex = this.spec.labels.indexOf(label);
    if (classIndex < 0) throw new Error(`label "${label}" is not one of ${this.spec.labels.join(', ')}`);
    const { width, height, heatMapWidth, heatMapHeight } = this.spec;
    const [pixels, heat] = await Promise.all([
      resizeForModel(image, width, height),
      options.mask === undefined ? new Uint8Array(heatMapWidth * heatMapHeight) : maskToHeatMap(options.mask, heatMapWidth, heatMapHeight),
    ]);
    if (pixels.length !== width * height * 3) throw new Error(`resized image has ${pixels.length} bytes, expected ${width * height * 3}`);
    const line = JSON.stringify({ label, classIndex, sourceRef: options.sourceRef ?? null, hasMask: options.mask !== undefined });
    await this.images.write(pixels);
    await this.masks.write(heat);
    await this.index.write(`${line}\n`);
    this.count++;
    this.classCounts[label] = (this.classCounts[label] ?? 0) + 1;
  }

  /** Closes the files and writes meta.json, which marks the split complete. */
  async close(): Promise<SplitMeta> {
    await Promise.all([this.images.close(), this.masks.close(), this.index.close()]);
    const meta: SplitMeta = {
      format: 'loupe-dataset',
      formatVersion: 1,
      count: this.count,
      width: this.spec.width,
      height: this.spec.height,
      channels: 3,
      layout: 'NHWC',
      colorOrder: 'RGB',
      heatMapWidth: this.spec.heatMapWidth,
      heatMapHeight: this.spec.heatMapHeight,
      heatMapReduce: 'max',
      labels: [...this.spec.labels],
      classCounts: this.classCounts,
      source: this.spec.source,
      createdAt: new Date().toISOString(),
    };
    await writeFile(join(this.dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    return meta;
  }
}
