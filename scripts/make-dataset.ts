/**
 * Writes a training set for the demo model from the synthetic line:
 *
 *   npx tsx scripts/make-dataset.ts --out models/training/.cache/dataset [--seed 1]
 *     [--train 4000 --val 600 --test 1000] [--defect-rate 0.5] [--size 128]
 *
 * Splits come from disjoint part-index ranges (train from 0, val from 1e6,
 * test from 2e6), so changing --train never changes the val or test parts.
 * Frames go through SyntheticLine, i.e. the same encoding the gateway receives.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PART_LABELS } from '../gateway/src/camera/synthetic/render-part.js';
import { SyntheticLine } from '../gateway/src/camera/synthetic/synthetic-line.js';
import { DatasetSplit } from '../gateway/src/vision/dataset-pack.js';

const SPLIT_START = { train: 0, val: 1_000_000, test: 2_000_000 } as const;

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    train: { type: 'string', default: '4000' },
    val: { type: 'string', default: '600' },
    test: { type: 'string', default: '1000' },
    'defect-rate': { type: 'string', default: '0.5' },
    size: { type: 'string', default: '128' },
    'heat-map': { type: 'string', default: '16' },
    'render-size': { type: 'string', default: '256' },
    format: { type: 'string', default: 'jpeg' },
    'jpeg-quality': { type: 'string', default: '90' },
    examples: { type: 'string', default: '4' },
  },
  strict: true,
});

function intArg(name: keyof typeof values, min: number, max: number): number {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`--${name}: expected an integer ${min}..${max}, got "${String(values[name])}"`);
  }
  return v;
}

if (values.out === undefined) throw new Error('--out: required, the dataset folder to write');
if (values.format !== 'jpeg' && values.format !== 'png') throw new Error(`--format: expected jpeg or png, got "${values.format}"`);
const defectRate = Number(values['defect-rate']);
if (!(defectRate >= 0 && defectRate <= 1)) throw new Error(`--defect-rate: expected 0..1, got "${values['defect-rate']}"`);

const out = values.out;
const seed = intArg('seed', 0, 2 ** 31 - 1);
const size = intArg('size', 8, 1024);
const heatMap = intArg('heat-map', 1, size);
const renderSize = intArg('render-size', 16, 4096);
const examplesPerClass = intArg('examples', 0, 100);
const counts = { train: intArg('train', 1, 999_999), val: intArg('val', 1, 999_999), test: intArg('test', 1, 999_999) };

await rm(out, { recursive: true, force: true });
const source =
  `synthetic line seed ${seed}, ${renderSize}x${renderSize} ${values.format}` +
  `${values.format === 'jpeg' ? ` q${values['jpeg-quality']}` : ''}, defect rate ${defectRate}`;
const examplesSaved = new Map<string, number>();
const started = Date.now();

for (const split of ['train', 'val', 'test'] as const) {
  const line = new SyntheticLine({
    seed,
    widthPx: renderSize,
    heightPx: renderSize,
    defectRate,
    format: values.format,
    jpegQuality: intArg('jpeg-quality', 1, 100),
    startIndex: SPLIT_START[split],
  });
  await line.open();
  const writer = await DatasetSplit.create(join(out, split), {
    width: size,
    height: size,
    heatMapWidth: heatMap,
    heatMapHeight: heatMap,
    labels: PART_LABELS,
    source,
  });
  for (let i = 0; i < counts[split]; i++) {
    const frame = await line.grab();
    const label = frame.truth?.label ?? 'good';
    await writer.append(frame.data, label, { mask: frame.truthMask, sourceRef: frame.sourceRef });
    if (split === 'train' && (examplesSaved.get(label) ?? 0) < examplesPerClass) {
      // Full-resolution examples, for people browsing the dataset folder.
      const n = examplesSaved.get(label) ?? 0;
      const dir = join(out, 'examples', label);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${n}.${values.format === 'jpeg' ? 'jpg' : 'png'}`), frame.data);
      if (label !== 'good' && frame.truthMask !== undefined) await writeFile(join(dir, `${n}-mask.png`), frame.truthMask);
      examplesSaved.set(label, n + 1);
    }
    if ((i + 1) % 500 === 0 || i + 1 === counts[split]) {
      process.stderr.write(`${split}: ${i + 1}/${counts[split]} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    }
  }
  await line.close();
  const meta = await writer.close();
  process.stderr.write(`${split}: ${JSON.stringify(meta.classCounts)}\n`);
}
