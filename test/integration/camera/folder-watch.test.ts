import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FolderWatch } from '../../../gateway/src/camera/folder-watch.js';
import type { Frame } from '../../../gateway/src/camera/frame.js';
import type { FolderCameraConfig } from '../../../gateway/src/config/sections/camera.js';
import { isLoupeError } from '../../../gateway/src/errors.js';
import { makeTempDir, type TempDir } from '../../helpers/camera-temp-dir.js';
import { BoundedReader } from '../../helpers/camera-wait.js';

const log = pino({ level: 'silent' });
const STABLE_MS = 150;
const POLL_MS = 200;

let jpeg: Buffer;
let png: Buffer;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const create = { create: { width: 16, height: 12, channels: 3 as const, background: '#808080' } };
  jpeg = await sharp(create).jpeg().toBuffer();
  png = await sharp(create).png().toBuffer();
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(overrides: Partial<FolderCameraConfig> = {}): Promise<{ dir: TempDir; open: () => Promise<{ source: FolderWatch; reader: BoundedReader<Frame> }> }> {
  const dir = await makeTempDir('folder-watch');
  cleanup.push(() => dir.remove());
  const open = async () => {
    const source = new FolderWatch(
      {
        type: 'folder',
        path: dir.path,
        extensions: ['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp'],
        stableMs: STABLE_MS,
        pollMs: POLL_MS,
        afterProcessing: 'move',
        ...overrides,
      },
      log,
    );
    const abort = new AbortController();
    cleanup.push(async () => {
      abort.abort();
      await source.close();
    });
    await source.open();
    return { source, reader: new BoundedReader(source.frames(abort.signal)) };
  };
  return { dir, open };
}

/** Appear all at once with a chosen mtime, the way an uploader that renames on completion does. */
async function drop(dir: string, name: string, data: Buffer, mtimeSec?: number): Promise<void> {
  const temp = path.join(dir, `.${name}.uploading`);
  await writeFile(temp, data);
  if (mtimeSec !== undefined) await utimes(temp, mtimeSec, mtimeSec);
  await rename(temp, path.join(dir, name));
}

describe('FolderWatch', () => {
  it('waits until a file being written has stopped growing before delivering it', async () => {
    // Generous against the write steps, so a busy machine cannot make a pause look like the end of the upload.
    const stableMs = 400;
    const { dir, open } = await setup({ stableMs });
    const { reader } = await open();
    const file = path.join(dir.path, 'part-1.jpg');
    const step = Math.ceil(jpeg.length / 5);
    let lastWriteAt = 0;
    for (let at = 0; at < jpeg.length; at += step) {
      await appendFile(file, jpeg.subarray(at, at + step));
      lastWriteAt = Date.now();
      // Slower than a scan, faster than stableMs: every step is seen and none is taken.
      await sleep(50);
    }
    const frame = await reader.expectNext(3000);
    expect(Date.now() - lastWriteAt).toBeGreaterThanOrEqual(stableMs - 5);
    expect(frame.data.equals(jpeg)).toBe(true);
    expect(frame.partId).toBe('part-1');
    expect(await reader.next(STABLE_MS + POLL_MS * 2)).toBeNull();
  });

  it('ignores temporary upload names until the file is renamed to its final name', async () => {
    const { dir, open } = await setup();
    const { reader } = await open();
    for (const name of ['.part-2.jpg', 'part-2.jpg.tmp', 'part-2.jpg.part', 'part-2.jpg~']) await writeFile(path.join(dir.path, name), jpeg);
    expect(await reader.next(STABLE_MS + POLL_MS * 2)).toBeNull();
    await rename(path.join(dir.path, 'part-2.jpg.part'), path.join(dir.path, 'part-2.jpg'));
    const frame = await reader.expectNext(3000);
    expect(frame.partId).toBe('part-2');
    expect(frame.sourceRef.startsWith('part-2.jpg@')).toBe(true);
  });

  it('moves files that are not images to rejected/ and counts them as failed, then goes on', async () => {
    const { dir, open } = await setup();
    const now = Math.floor(Date.now() / 1000);
    await drop(dir.path, 'fake.jpg', Buffer.from('<html>camera login</html>'), now - 30);
    await drop(dir.path, 'result.xml', Buffer.from('<result ok="1"/>'), now - 20);
    await drop(dir.path, 'good.png', png, now - 10);
    const { source, reader } = await open();
    const frame = await reader.expectNext(3000);
    expect(frame.partId).toBe('good');
    expect(frame.data.equals(png)).toBe(true);
    expect((await readdir(path.join(dir.path, 'rejected'))).sort()).toEqual(['fake.jpg', 'result.xml']);
    expect(existsSync(path.join(dir.path, 'fake.jpg'))).toBe(false);
    expect(source.status()).toMatchObject({ state: 'ok', framesGrabbed: 1, framesFailed: 2 });
  });

  it('delivers a backlog of 200 files found at start exactly once each, oldest first, at the pace of the consumer', async () => {
    const { dir, open } = await setup();
    const base = Math.floor(Date.now() / 1000) - 1000;
    // Ten files share each mtime, so the name decides between them. They are all there before the watch starts
    // (a camera that kept writing while the gateway was down), so the order is fully defined.
    const files = Array.from({ length: 200 }, (_, i) => ({ name: `p${String(i).padStart(3, '0')}.jpg`, mtime: base + Math.floor(i / 10) }));
    const shuffled = [...files].sort(() => Math.random() - 0.5);
    await Promise.all(shuffled.map((f) => drop(dir.path, f.name, jpeg, f.mtime)));
    const { source, reader } = await open();

    const delivered: string[] = [];
    for (let i = 0; i < files.length; i++) {
      const frame = await reader.expectNext(3000);
      delivered.push(frame.partId ?? '');
      await source.settle(frame, 'done');
    }
    expect(delivered).toEqual(files.map((f) => path.parse(f.name).name));
    expect(await reader.next(STABLE_MS + POLL_MS * 2)).toBeNull();
    const [day] = await readdir(path.join(dir.path, 'processed'));
    expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(await readdir(path.join(dir.path, 'processed', day as string))).toHaveLength(200);
    expect(source.status()).toMatchObject({ framesGrabbed: 200, framesFailed: 0 });
  });

  it('delivers a burst of 200 files arriving while it watches exactly once each', async () => {
    const { dir, open } = await setup();
    const { source, reader } = await open();
    // Files that land while the watch runs are taken as they become stable; which of a burst is seen first depends
    // on when the writes land, so only completeness and uniqueness are defined here.
    const names = Array.from({ length: 200 }, (_, i) => `q${String(i).padStart(3, '0')}`);
    const writing = Promise.all(names.map((n) => drop(dir.path, `${n}.jpg`, jpeg)));

    const delivered: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const frame = await reader.expectNext(3000);
      delivered.push(frame.partId ?? '');
      await source.settle(frame, 'done');
    }
    await writing;
    expect(new Set(delivered).size).toBe(200);
    expect([...delivered].sort()).toEqual(names);
    expect(await reader.next(STABLE_MS + POLL_MS * 2)).toBeNull();
    expect(source.status()).toMatchObject({ framesGrabbed: 200, framesFailed: 0 });
  });

  it('moves settled files into processed/<day>/ or rejected/ without overwriting an earlier file of the same name', async () => {
    const { dir, open } = await setup();
    const { source, reader } = await open();
    await drop(dir.path, 'a.jpg', jpeg);
    const first = await reader.expectNext(3000);
    await source.settle(first, 'done');
    expect(existsSync(path.join(dir.path, 'a.jpg'))).toBe(false);

    // The camera restarted its counter: same name, another part.
    await drop(dir.path, 'a.jpg', png);
    const second = await reader.expectNext(3000);
    expect(second.data.equals(png)).toBe(true);
    await source.settle(second, 'done');
    const [day] = await readdir(path.join(dir.path, 'processed'));
    const processed = path.join(dir.path, 'processed', day as string);
    expect((await readdir(processed)).sort()).toEqual(['a-1.jpg', 'a.jpg']);
    expect((await readFile(path.join(processed, 'a-1.jpg'))).equals(png)).toBe(true);

    await drop(dir.path, 'b.jpg', jpeg);
    await source.settle(await reader.expectNext(3000), 'rejected');
    expect(await readdir(path.join(dir.path, 'rejected'))).toEqual(['b.jpg']);
  });

  it('deletes settled files when afterProcessing is delete', async () => {
    const { dir, open } = await setup({ afterProcessing: 'delete' });
    const { source, reader } = await open();
    await drop(dir.path, 'c.jpg', jpeg);
    await source.settle(await reader.expectNext(3000), 'done');
    expect(await readdir(dir.path)).toEqual([]);
  });

  it('delivers an unsettled file again after a restart, under the same sourceRef', async () => {
    const { dir, open } = await setup();
    await drop(dir.path, 'd.jpg', jpeg);
    const before = await open();
    const first = await before.reader.expectNext(3000);
    // Never twice within one run, however often the folder is scanned.
    expect(await before.reader.next(STABLE_MS + POLL_MS * 2)).toBeNull();
    await before.source.close();

    const after = await open();
    const again = await after.reader.expectNext(3000);
    expect(again.sourceRef).toBe(first.sourceRef);
    expect(again.data.equals(first.data)).toBe(true);
  });

  it('skips a file that vanishes after it was listed and delivers the next one', async () => {
    const { dir, open } = await setup();
    const { source, reader } = await open();
    const now = Math.floor(Date.now() / 1000);
    await drop(dir.path, 'gone.jpg', jpeg, now - 20);
    // Listed and stable, but nobody has asked for it yet.
    await sleep(STABLE_MS * 3);
    await unlink(path.join(dir.path, 'gone.jpg'));
    await drop(dir.path, 'kept.jpg', jpeg, now - 10);
    const frame = await reader.expectNext(3000);
    expect(frame.partId).toBe('kept');
    expect(source.status()).toMatchObject({ state: 'ok', framesFailed: 0 });
  });

  it('refuses grab() with a typed error', async () => {
    const { open } = await setup();
    const { source } = await open();
    await expect(source.grab()).rejects.toSatisfy((err) => isLoupeError(err, 'LOUPE_ERR_CAMERA_PULL_UNSUPPORTED'));
  });

  it('starts down on a folder that does not exist yet, says why, and delivers once the folder appears', async () => {
    const { dir } = await setup();
    const late = path.join(dir.path, 'share');
    const source = new FolderWatch({ type: 'folder', path: late, extensions: ['.jpg'], stableMs: STABLE_MS, pollMs: POLL_MS, afterProcessing: 'move' }, log);
    const abort = new AbortController();
    cleanup.push(async () => {
      abort.abort();
      await source.close();
    });
    await source.open();
    expect(source.status()).toMatchObject({ state: 'down', lastError: expect.stringContaining(`${late} cannot be read`) });
    const reader = new BoundedReader(source.frames(abort.signal));
    expect(await reader.next(POLL_MS * 2)).toBeNull();

    await mkdir(late);
    await drop(late, 'first.jpg', jpeg);
    const frame = await reader.expectNext(3000);
    expect(frame.partId).toBe('first');
    expect(source.status()).toMatchObject({ state: 'ok', lastError: null, framesGrabbed: 1 });
  });
});
