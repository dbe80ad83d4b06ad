import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Inspection } from '../../gateway/src/inspect/inspection.js';
import { ImageStore, pruneImages } from '../../gateway/src/store/images.js';
import { openStore } from '../../gateway/src/store/store.js';
import { silentLog, tempDir } from '../helpers/test-config.js';

const tmp = tempDir('loupe-retention-');
afterAll(() => tmp.cleanup());

function inspection(n: number, at: number, state: Inspection['state']): Inspection {
  return {
    id: `01TEST${String(n).padStart(20, '0')}`, partId: `P${n}`, station: 's1', triggeredAt: new Date(at), trigger: 'api', modelId: 'm', modelVersion: '1',
    findings: [], defectScore: 0.1, modelVerdict: 'pass', verdict: 'pass', defectClass: null, decidedBy: 'model', reason: '', audit: false,
    state, errorCode: null, timings: {}, imageRef: null, sourceRef: null, truth: null,
  };
}

describe('image retention', () => {
  it('deletes the oldest images past the byte budget or age, never one awaiting review or upload, and keeps every row', async () => {
    const store = openStore(
      { dbFile: join(tmp.dir, 'l.db'), imagesDir: join(tmp.dir, 'img'), synchronous: 'normal', fsyncImages: false, maxDiskMb: 1, maxAgeDays: 1, minFreeDiskMb: 0, retentionIntervalMs: 1000 },
      silentLog,
    );
    const now = Date.now();
    const image = Buffer.alloc(1000, 1);
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) {
      // Part 0 waits for an operator, part 1's correction waits for the broker; both are among the oldest.
      const i = inspection(n, now - (20 - n) * 60_000, n === 0 ? 'awaiting-review' : 'decided');
      i.imageRef = await store.images.write('s1', i.id, i.triggeredAt, 'jpg', image);
      store.inspections.insert(i, image.length);
      ids.push(i.id);
    }
    store.outbox.enqueue({ messageId: 'c1', kind: 'correction', station: 's1', inspectionId: ids[1] ?? '', payload: {} });

    const r = await pruneImages(store.images, store.inspections, { maxBytes: 10_000, maxAgeMs: 86_400_000, now }, silentLog);
    expect(r.deleted).toBe(10);
    expect(store.inspections.imageBytes()).toBe(10_000);
    const kept = ids.filter((id) => store.inspections.get(id)?.imageRef !== null);
    expect(kept).toEqual([ids[0], ids[1], ...ids.slice(12)]);
    for (const id of ids) expect(store.inspections.get(id)).toBeDefined();
    expect(existsSync(join(tmp.dir, 'img', new Date(now - 20 * 60_000).toISOString().slice(0, 10), 's1', `${ids[2]}.jpg`))).toBe(false);

    const old = await pruneImages(store.images, store.inspections, { maxBytes: 1e9, maxAgeMs: 5 * 60_000, now }, silentLog);
    expect(old.deleted).toBe(3);
    expect(ids.filter((id) => store.inspections.get(id)?.imageRef !== null)).toEqual([ids[0], ids[1], ...ids.slice(15)]);
    store.close();
  });

  it('refuses an image when the disk is below its free-space floor, with a disk-full error, and writes it once space returns', async () => {
    const { statfs } = await import('node:fs/promises');
    const fs = await statfs(tmp.dir);
    const free = fs.bavail * fs.bsize;
    // A floor above what the disk has: the guard must refuse without writing anything.
    const full = new ImageStore(join(tmp.dir, 'full'), { fsync: false, minFreeBytes: free * 2 });
    const at = new Date();
    await expect(full.write('s1', 'A', at, 'jpg', Buffer.alloc(10))).rejects.toMatchObject({ code: 'LOUPE_ERR_STORE_DISK_FULL' });
    expect(existsSync(join(tmp.dir, 'full', at.toISOString().slice(0, 10)))).toBe(false);
    expect(readdirSync(join(tmp.dir, 'full', '.tmp'))).toEqual([]);

    const roomy = new ImageStore(join(tmp.dir, 'roomy'), { fsync: true, minFreeBytes: 1 });
    const ref = await roomy.write('s1', 'B', at, 'jpg', Buffer.from('image'));
    expect(readFileSync(roomy.path(ref), 'utf8')).toBe('image');
    // A second image on the same day lands in the folder the first one made.
    const ref2 = await roomy.write('s1', 'C', at, 'png', Buffer.from('second'));
    expect(readFileSync(roomy.path(ref2), 'utf8')).toBe('second');
  });
});
