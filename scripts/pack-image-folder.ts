/**
 * Packs a folder of real photos, one subfolder per class, into the training
 * format models/training/train.py and finetune.py read (models/training/README.md):
 *
 *   npx tsx scripts/pack-image-folder.ts --in photos --out models/training/.cache/photos
 *     [--model models/demo-part | --size 128 --heat-map 16] [--good good]
 *     [--val 10] [--test 10] [--examples 4]
 *
 *   photos/
 *     good/            parts without a defect
 *     scratch/         one folder per defect class, named as the label
 *     dent/ ...
 *
 * A file `<name>-mask.png` beside `<name>.jpg` is that photo's defect mask
 * (white = defect) and trains the heat map; photos without one are packed
 * as "not annotated". With --model, the size and the class order come from
 * that model package, so the result can fine-tune it; a folder whose name is
 * not one of its labels is an error. Splits are chosen by a hash of each
 * file's path, so adding photos never moves one between train and test.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { splitOf } from '../gateway/src/uplink/sink/dataset-sink.js';
import { DatasetSplit, type DatasetSpec } from '../gateway/src/vision/dataset-pack.js';
import { loadModelPackage } from '../gateway/src/vision/model-package.js';

const IMAGE = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp']);
const SPLITS = ['train', 'val', 'test'] as const;

const { values } = parseArgs({
  options: {
    in: { type: 'string' },
    out: { type: 'string' },
    model: { type: 'string' },
    size: { type: 'string', default: '128' },
    'heat-map': { type: 'string', default: '16' },
    good: { type: 'string', default: 'good' },
    val: { type: 'string', default: '10' },
    test: { type: 'string', default: '10' },
    examples: { type: 'string', default: '4' },
  },
  strict: true,
});

function intArg(name: 'size' | 'heat-map' | 'val' | 'test' | 'examples', min: number, max: number): number {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name}: expected an integer ${min}..${max}, got "${String(values[name])}"`);
  return v;
}

if (values.in === undefined) throw new Error('--in: required, the folder with one subfolder per class (good/, scratch/, ...)');
if (values.out === undefined) throw new Error('--out: required, the dataset folder to write');
const input = values.in;
const out = values.out;
const valPercent = intArg('val', 0, 50);
const testPercent = intArg('test', 0, 50);
if (valPercent + testPercent >= 100) throw new Error('--val + --test: expected less than 100 percent together');
const examplesPerClass = intArg('examples', 0, 100);

const folders = (await readdir(input, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
if (folders.length === 0) throw new Error(`${input}: no class folders, expected ${values.good}/ and one folder per defect class`);

let width: number;
let height: number;
let labels: string[];
let heatMap = intArg('heat-map', 1, 256);
if (values.model !== undefined) {
  const m = loadModelPackage(values.model).manifest;
  width = m.input.width;
  height = m.input.height;
  labels = [...m.labels];
  if (m.outputs.task === 'classification' && m.goodLabel !== values.good) throw new Error(`--good: the model's good label is "${m.goodLabel}", got "${values.good}"`);
  const unknown = folders.filter((f) => !labels.includes(f));
  if (unknown.length > 0) throw new Error(`${input}: folders ${unknown.join(', ')} are not labels of ${values.model} (${labels.join(', ')}): rename them, or train a new model with train.py without --model`);
} else {
  width = intArg('size', 8, 1024);
  height = width;
  heatMap = Math.min(heatMap, width);
  if (!folders.includes(values.good)) throw new Error(`${input}: no "${values.good}/" folder: parts without a defect are needed to learn what good looks like (or name it with --good)`);
  labels = [values.good, ...folders.filter((f) => f !== values.good)];
}

await rm(out, { recursive: true, force: true });
const spec: DatasetSpec = { width, height, heatMapWidth: heatMap, heatMapHeight: heatMap, labels, source: `image folder ${basename(input)}, packed at ${width}x${height}` };
const writers = Object.fromEntries(await Promise.all(SPLITS.map(async (s) => [s, await DatasetSplit.create(join(out, s), spec)] as const))) as Record<(typeof SPLITS)[number], DatasetSplit>;
const skipped: string[] = [];
const examples = new Map<string, number>();
const started = Date.now();
let done = 0;
try {
  for (const label of folders) {
    const dir = join(input, label);
    const files = (await readdir(dir)).filter((f) => IMAGE.has(extname(f).toLowerCase()) && !/-mask\.[a-z]+$/i.test(f)).sort();
    const names = new Set(await readdir(dir));
    for (const f of files) {
      const stem = f.slice(0, -extname(f).length);
      const maskName = `${stem}-mask.png`;
      const rel = relative(input, join(dir, f)).split('\\').join('/');
      try {
        const image = await readFile(join(dir, f));
        const mask = names.has(maskName) ? await readFile(join(dir, maskName)) : undefined;
        await writers[splitOf(rel, valPercent, testPercent)].append(image, label, { sourceRef: rel, ...(mask ? { mask } : {}) });
        if ((examples.get(label) ?? 0) < examplesPerClass) {
          await mkdir(join(out, 'examples', label), { recursive: true });
          await writeFile(join(out, 'examples', label, f), image);
          if (mask) await writeFile(join(out, 'examples', label, maskName), mask);
          examples.set(label, (examples.get(label) ?? 0) + 1);
        }
      } catch (err) {
        skipped.push(`${rel} (${(err as Error).message.split('\n')[0]})`);
      }
      if (++done % 100 === 0) process.stderr.write(`${done} photos packed (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    }
  }
} finally {
  for (const s of SPLITS) {
    const meta = await writers[s].close();
    process.stderr.write(`${s}: ${meta.count} ${JSON.stringify(meta.classCounts)}\n`);
    const missing = labels.filter((l) => folders.includes(l) && (meta.classCounts[l] ?? 0) === 0);
    if (missing.length > 0 && s !== 'train') process.stderr.write(`  ${s} has no ${missing.join(', ')}: add photos, or its figures for those classes are empty\n`);
  }
}
if (skipped.length > 0) process.stderr.write(`skipped ${skipped.length} unreadable files: ${skipped.slice(0, 5).join('; ')}${skipped.length > 5 ? '; ...' : ''}\n`);
process.stderr.write(`wrote ${out} (${width}x${height}, labels ${labels.join(', ')}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
