import { mkdir, open, readFile, readdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../../errors.js';
import { DatasetSplit, type DatasetSpec } from '../../vision/dataset-pack.js';
import type { ReceivedCorrection, ReceivedIndex, Split } from './received-index.js';

export interface PackSpec {
  width: number;
  height: number;
  heatMapWidth: number;
  heatMapHeight: number;
  /** Class order; null derives it from what arrived (good label first, then alphabetical). */
  labels: readonly string[] | null;
  goodLabel: string;
}

export interface PackSummary {
  /** Folder of this pack; `<outDir>/dataset` points at it. */
  dir: string;
  createdAt: string;
  corrections: number;
  labels: string[];
  width: number;
  height: number;
  packed: Record<Split, number>;
  classCounts: Record<Split, Record<string, number>>;
  /** Corrections not packed, by why: a label outside `labels`, an image still to fetch, gone, or unreadable. */
  skipped: { label: Record<string, number>; imagePending: number; imageMissing: number; imageUnreadable: number };
}

const SPLITS: readonly Split[] = ['train', 'val', 'test'];
/** Packs kept besides the newest, for a training run still reading the previous one. */
const KEEP_PACKS = 2;
/** Full-resolution frames per class copied to `examples/<label>/`, for people browsing the dataset. */
const EXAMPLES_PER_CLASS = 4;

/**
 * Writes everything received so far as a training dataset in the format
 * models/training/train.py reads (models/training/README.md: train/, val/,
 * test/ with raw pixels at model resolution, written by vision/dataset-pack.ts,
 * and examples/<label>/ to look at), into a fresh folder under
 * `packs/`, then points the `dataset` link at it in one rename, so a
 * training run never sees a half-written dataset.
 */
export async function packDataset(outDir: string, index: ReceivedIndex, spec: PackSpec, log: Logger): Promise<PackSummary | null> {
  const release = await acquireLock(join(outDir, 'pack.lock'));
  if (!release) {
    log.info('another sink process is packing this folder; skipped');
    return null;
  }
  try {
    return await pack(outDir, index, spec, log);
  } finally {
    await release();
  }
}

async function pack(outDir: string, index: ReceivedIndex, spec: PackSpec, log: Logger): Promise<PackSummary> {
  const t0 = Date.now();
  const rows = index.all();
  const labels = spec.labels ? [...spec.labels] : deriveLabels(rows, spec.goodLabel);
  const createdAt = new Date().toISOString();
  const name = `${createdAt.replace(/[:.]/g, '-')}-${process.pid}`;
  const dir = join(outDir, 'packs', name);
  const source = `corrections from the plant broker (loupe dataset-sink), ${rows.length} received up to ${createdAt}`;
  const datasetSpec: DatasetSpec = { width: spec.width, height: spec.height, heatMapWidth: spec.heatMapWidth, heatMapHeight: spec.heatMapHeight, labels, source };
  const writers = Object.fromEntries(await Promise.all(SPLITS.map(async (s) => [s, await DatasetSplit.create(join(dir, s), datasetSpec)] as const))) as Record<Split, DatasetSplit>;
  const summary: PackSummary = {
    dir,
    createdAt,
    corrections: rows.length,
    labels,
    width: spec.width,
    height: spec.height,
    packed: { train: 0, val: 0, test: 0 },
    classCounts: { train: {}, val: {}, test: {} },
    skipped: { label: {}, imagePending: 0, imageMissing: 0, imageUnreadable: 0 },
  };
  const lines: string[] = [];
  const examples = new Map<string, number>();
  try {
    for (const r of rows) {
      if (r.imageState === 'pending') summary.skipped.imagePending++;
      else if (r.imageState === 'missing' || r.imageFile === null) summary.skipped.imageMissing++;
      else if (!labels.includes(r.label)) summary.skipped.label[r.label] = (summary.skipped.label[r.label] ?? 0) + 1;
      else {
        try {
          const image = await readFile(join(outDir, r.imageFile));
          await writers[r.split].append(image, r.label, { sourceRef: r.correctionId });
          if ((examples.get(r.label) ?? 0) < EXAMPLES_PER_CLASS) {
            await mkdir(join(dir, 'examples', r.label), { recursive: true });
            await writeFile(join(dir, 'examples', r.label, basename(r.imageFile)), image);
            examples.set(r.label, (examples.get(r.label) ?? 0) + 1);
          }
        } catch (err) {
          summary.skipped.imageUnreadable++;
          log.warn({ correctionId: r.correctionId, imageFile: r.imageFile, err: errorMessage(err) }, 'image not packed: unreadable');
          continue;
        }
        summary.packed[r.split]++;
        summary.classCounts[r.split][r.label] = (summary.classCounts[r.split][r.label] ?? 0) + 1;
        lines.push(
          JSON.stringify({
            correctionId: r.correctionId,
            split: r.split,
            label: r.label,
            classIndex: labels.indexOf(r.label),
            site: r.site,
            line: r.line,
            station: r.station,
            partId: r.partId,
            modelId: r.modelId,
            modelVersion: r.modelVersion,
            decidedAt: r.decidedAt,
            imageFile: r.imageFile,
            imageSha256: r.imageSha256,
          }),
        );
      }
    }
  } finally {
    for (const s of SPLITS) await writers[s].close();
  }
  await writeFile(join(dir, 'corrections.jsonl'), lines.length > 0 ? `${lines.join('\n')}\n` : '');
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify({ ...summary, dir: undefined }, null, 2)}\n`);
  await pointLink(join(outDir, 'dataset'), join('packs', name));
  await pruneOldPacks(join(outDir, 'packs'), name);
  log.info(
    { dir, ...summary.packed, skipped: summary.skipped, seconds: Math.round((Date.now() - t0) / 100) / 10 },
    `dataset packed: ${summary.packed.train} train, ${summary.packed.val} val, ${summary.packed.test} test of ${rows.length} corrections`,
  );
  return summary;
}

function deriveLabels(rows: readonly ReceivedCorrection[], good: string): string[] {
  const others = [...new Set(rows.map((r) => r.label).filter((l) => l !== good))].sort();
  return [good, ...others];
}

/** Replace the `dataset` link in one rename: readers see the old pack or the new one, never neither. */
async function pointLink(link: string, target: string): Promise<void> {
  const tmp = `${link}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  await symlink(target, tmp, 'dir');
  await rename(tmp, link);
}

async function pruneOldPacks(packsDir: string, newest: string): Promise<void> {
  const names = (await readdir(packsDir)).filter((n) => n !== newest).sort();
  for (const n of names.slice(0, Math.max(0, names.length - (KEEP_PACKS - 1)))) await rm(join(packsDir, n), { recursive: true, force: true });
}

/** An exclusive lock file holding our pid; a lock left by a process that is gone is taken over. */
async function acquireLock(file: string): Promise<(() => Promise<void>) | null> {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => unlink(file).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(file, 'utf8').catch(() => ''));
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) return null;
      await unlink(file).catch(() => undefined);
    }
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pack the `dataset` link points at, or null before the first pack. */
export async function currentPack(outDir: string): Promise<string | null> {
  try {
    return join(outDir, await readlink(join(outDir, 'dataset')));
  } catch {
    return null;
  }
}
