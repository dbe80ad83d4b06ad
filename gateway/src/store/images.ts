import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, statfs } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import type { Logger } from 'pino';
import { LoupeError } from '../errors.js';
import type { InspectionRepo } from './inspections.js';

const TMP = '.tmp';
/** How long a free-space reading stands in for a fresh one (less what was written since). */
const FREE_SPACE_TTL_MS = 1000;

/**
 * Images on disk beside the inspection log. Writes are atomic (temp file,
 * fsync, rename) so a crash leaves either the whole image or none; the
 * inspection row that references an image is committed after it.
 */
export class ImageStore {
  private free: { bytes: number; at: number } | null = null;

  constructor(
    private readonly dir: string,
    private readonly opts: { fsync: boolean; minFreeBytes: number },
  ) {
    mkdirSync(join(dir, TMP), { recursive: true });
    // Leftovers of writes a crash interrupted: never referenced by a row.
    for (const f of readdirSync(join(dir, TMP))) rmSync(join(dir, TMP, f), { force: true });
  }

  /** Store `data` for inspection `id`; returns the reference saved in the row. */
  async write(station: string, id: string, triggeredAt: Date, ext: string, data: Buffer): Promise<string> {
    if (this.opts.minFreeBytes > 0 && (await this.cachedFreeBytes()) < this.opts.minFreeBytes) {
      throw new LoupeError('LOUPE_ERR_STORE_DISK_FULL', `less than ${Math.round(this.opts.minFreeBytes / 1e6)} MB free under ${this.dir}: free disk space or lower store.maxDiskMb`);
    }
    const day = triggeredAt.toISOString().slice(0, 10);
    const ref = `${day}/${station}/${id}.${ext}`;
    const tmp = join(this.dir, TMP, `${id}.${ext}`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      if (this.opts.fsync) await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      const full = (err as NodeJS.ErrnoException).code === 'ENOSPC';
      throw new LoupeError(full ? 'LOUPE_ERR_STORE_DISK_FULL' : 'LOUPE_ERR_STORE_WRITE', `cannot write image ${ref}: ${(err as Error).message}`, { cause: err });
    }
    await fh.close();
    if (this.free) this.free.bytes -= data.length;
    try {
      await rename(tmp, join(this.dir, ref));
    } catch (err) {
      // The day's folder is made on its first image rather than checked on every one.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(join(this.dir, day, station), { recursive: true });
      await rename(tmp, join(this.dir, ref));
    }
    return ref;
  }

  read(ref: string): Promise<Buffer> {
    return readFile(this.path(ref));
  }

  /** Absolute path of a reference; refuses anything that escapes the store. */
  path(ref: string): string {
    const p = normalize(join(this.dir, ref));
    if (!p.startsWith(normalize(this.dir) + sep)) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no image ${ref}`);
    return p;
  }

  async freeBytes(): Promise<number> {
    const s = await statfs(this.dir);
    return s.bavail * s.bsize;
  }

  /** Free space for the per-image guard: asked of the file system at most once a second, not once per part. */
  private async cachedFreeBytes(): Promise<number> {
    const now = Date.now();
    if (!this.free || now - this.free.at > FREE_SPACE_TTL_MS) this.free = { bytes: await this.freeBytes(), at: now };
    return this.free.bytes;
  }
}

/**
 * Deletes the oldest images while the store is over its byte budget or
 * images are older than the age limit. Rows stay (the log is the record);
 * only their image reference is cleared.
 */
export async function pruneImages(
  images: ImageStore,
  repo: InspectionRepo,
  limits: { maxBytes: number; maxAgeMs: number; now: number },
  log: Logger,
): Promise<{ deleted: number; freedBytes: number }> {
  let total = repo.imageBytes();
  let deleted = 0;
  let freed = 0;
  for (;;) {
    const batch = repo.oldestImages(200);
    const victims: typeof batch = [];
    for (const img of batch) {
      const tooOld = limits.now - img.triggeredAt > limits.maxAgeMs;
      if (!tooOld && total <= limits.maxBytes) break;
      victims.push(img);
      total -= img.bytes;
    }
    if (victims.length === 0) break;
    for (const v of victims) await rm(images.path(v.imageRef), { force: true });
    repo.clearImages(victims.map((v) => v.id));
    deleted += victims.length;
    freed += victims.reduce((n, v) => n + v.bytes, 0);
    if (victims.length < batch.length || batch.length < 200) break;
  }
  if (deleted > 0) log.info({ deleted, freedMb: Math.round(freed / 1e5) / 10 }, 'image retention pruned old images');
  return { deleted, freedBytes: freed };
}
