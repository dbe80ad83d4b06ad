import { watch, type FSWatcher, type Stats } from 'node:fs';
import { mkdir, open as openFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { FolderCameraConfig } from '../config/sections/camera.js';
import { errorMessage, LoupeError } from '../errors.js';
import type { Frame } from './frame.js';
import type { CameraStatus, FrameSource } from './frame-source.js';
import { sniffImageType } from './image-type.js';

/** Names uploaders give a file while it is still being written; it is taken once renamed. */
const TEMP_NAME = /^\.|\.(tmp|part|filepart)$|~$/i;

interface DroppedFile {
  name: string;
  size: number;
  mtimeMs: number;
}

interface Candidate extends DroppedFile {
  /** When size and mtime were last seen to change. */
  unchangedSince: number;
}

/**
 * A folder a smart camera or FTP server drops images into. fs.watch makes
 * delivery prompt; the poll every `pollMs` is the safety net, since change
 * events get lost on network file systems and across remounts.
 *
 * A file is only listed, never read, until the consumer asks for the next
 * frame, so a burst of hundreds of files costs no memory and none is dropped.
 * Files stay in the folder until settled: after a crash they are delivered
 * again under the same `sourceRef`, and the station skips what it already stored.
 */
export class FolderWatch implements FrameSource {
  readonly type = 'folder';
  private readonly config: FolderCameraConfig;
  private readonly log: Logger;
  private readonly dir: string;
  private readonly extensions: Set<string>;

  private state: CameraStatus['state'] = 'stopped';
  private lastError: string | null = null;
  private framesGrabbed = 0;
  private framesFailed = 0;

  private watcher: FSWatcher | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private stableTimer: NodeJS.Timeout | null = null;
  private scanning = false;
  private rescan = false;
  private scanScheduled = false;

  /** Seen, but not yet unchanged for `stableMs`. */
  private readonly candidates = new Map<string, Candidate>();
  /** Stable files waiting for the consumer, oldest first. */
  private readonly ready: DroppedFile[] = [];
  /** Names queued, being read or delivered and not yet settled: never listed again this run. */
  private readonly claimed = new Set<string>();
  /** Delivered frames by sourceRef, until settled. */
  private readonly inFlight = new Map<string, DroppedFile>();
  /** Files that could not be read or moved away, by name -> identity: retried only once they change. */
  private readonly stuck = new Map<string, string>();
  private readonly waiters = new Set<() => void>();

  constructor(config: FolderCameraConfig, log: Logger) {
    this.config = config;
    this.dir = path.resolve(config.path);
    this.log = log.child({ camera: this.type, path: this.dir });
    this.extensions = new Set(config.extensions.map((e) => e.toLowerCase()));
  }

  async open(): Promise<void> {
    if (this.state !== 'stopped') return;
    this.state = 'starting';
    // A folder that is not there yet (a share mounted after boot, a camera that creates it) leaves the camera
    // down with the reason, and the poll keeps looking: the station starts and recovers on its own.
    this.pollTimer = setInterval(() => void this.scan(), this.config.pollMs);
    await this.scan();
    if (this.state === 'starting') {
      this.startWatcher();
      this.setState('ok', null);
      // Files that landed between the first listing and the watcher.
      this.scheduleScan();
    }
  }

  async grab(): Promise<Frame> {
    throw new LoupeError('LOUPE_ERR_CAMERA_PULL_UNSUPPORTED', 'a folder camera delivers the files it is sent; use trigger type "file"');
  }

  async *frames(signal: AbortSignal): AsyncGenerator<Frame> {
    if (this.state === 'stopped') throw new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', 'folder camera is not open');
    while (!this.isStopped() && !signal.aborted) {
      const next = this.ready.shift();
      if (next === undefined) {
        await this.nextReady(signal);
        continue;
      }
      const frame = await this.read(next);
      if (frame === null) continue;
      if (this.isStopped() || signal.aborted) {
        // Read but not handed over: keep it first in line for whoever asks next.
        this.ready.unshift(next);
        return;
      }
      this.inFlight.set(frame.sourceRef, next);
      this.framesGrabbed++;
      this.lastError = null;
      yield frame;
    }
  }

  async settle(frame: Frame, outcome: 'done' | 'rejected'): Promise<void> {
    const file = this.inFlight.get(frame.sourceRef);
    if (file === undefined) {
      this.log.debug({ sourceRef: frame.sourceRef }, 'settle of a frame that is not in flight ignored');
      return;
    }
    const full = path.join(this.dir, file.name);
    const release = () => {
      this.inFlight.delete(frame.sourceRef);
      this.claimed.delete(file.name);
    };
    let now: Stats;
    try {
      now = await stat(full);
    } catch (err) {
      if (codeOf(err) !== 'ENOENT') throw settleError(file.name, err);
      this.log.warn({ file: file.name }, 'file was removed by someone else before it could be settled');
      release();
      return;
    }
    if (now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
      // The camera reused the name while we inspected the old image: the new one is a new part.
      this.log.warn({ file: file.name }, 'file was overwritten while in flight; the new content will be delivered as a new part');
      release();
      this.scheduleScan();
      return;
    }
    try {
      if (outcome === 'rejected') await this.moveInto(['rejected'], file.name);
      else if (this.config.afterProcessing === 'delete') await unlink(full);
      else await this.moveInto(['processed', localDay(new Date())], file.name);
    } catch (err) {
      // Keep the claim: moving may work on a retry, and delivering it again this run would inspect it twice.
      throw settleError(file.name, err);
    }
    release();
  }

  status(): CameraStatus {
    return { state: this.state, lastError: this.lastError, framesGrabbed: this.framesGrabbed, framesFailed: this.framesFailed };
  }

  async close(): Promise<void> {
    this.state = 'stopped';
    this.watcher?.close();
    this.watcher = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.pollTimer = null;
    this.stableTimer = null;
    this.wake();
  }

  /** Through a method so TypeScript does not narrow `state` across awaits. */
  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  private startWatcher(): void {
    try {
      const watcher = watch(this.dir, () => this.scheduleScan());
      watcher.on('error', (err) => {
        this.log.warn({ err: errorMessage(err) }, 'folder change events lost; relying on the poll until the folder is back');
        watcher.close();
        if (this.watcher === watcher) this.watcher = null;
      });
      this.watcher = watcher;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'folder change events unavailable; relying on the poll');
    }
  }

  /** Coalesces the flood of events a burst of files raises into one scan. */
  private scheduleScan(): void {
    if (this.scanScheduled || this.isStopped()) return;
    this.scanScheduled = true;
    setImmediate(() => {
      this.scanScheduled = false;
      void this.scan();
    });
  }

  private async scan(): Promise<void> {
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = true;
    try {
      do {
        this.rescan = false;
        await this.scanOnce();
      } while (this.rescan && !this.isStopped());
    } catch (err) {
      // scanOnce handles file-system errors; anything else is a bug worth a loud line, not a dead camera.
      this.log.error({ err: errorMessage(err) }, 'folder scan failed');
    } finally {
      this.scanning = false;
    }
  }

  private async scanOnce(): Promise<void> {
    if (this.isStopped()) return;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (this.state !== 'down') this.log.error({ err: errorMessage(err), code: 'LOUPE_ERR_CAMERA_UNAVAILABLE' }, `camera folder ${this.dir} cannot be read; waiting for it to appear`);
      this.setState('down', `${this.dir} cannot be read (${errorMessage(err)}), expected the folder the camera writes into`);
      return;
    }
    if (this.state === 'down') {
      this.log.info('camera folder is readable again');
      this.setState('ok', null);
      if (this.watcher === null) this.startWatcher();
    }
    const present = new Set(names);
    for (const name of this.candidates.keys()) if (!present.has(name)) this.candidates.delete(name);
    for (const name of this.stuck.keys()) if (!present.has(name)) this.stuck.delete(name);

    let added = false;
    for (const name of names) {
      if (TEMP_NAME.test(name) || this.claimed.has(name)) continue;
      let info: Stats;
      try {
        info = await stat(path.join(this.dir, name));
      } catch {
        // Vanished between listing and stat: nothing to deliver.
        this.candidates.delete(name);
        continue;
      }
      // An empty file is an upload that has not started writing yet, never an image.
      if (!info.isFile() || info.size === 0) continue;
      if (this.stuck.get(name) === identity(info)) continue;
      const now = Date.now();
      const seen = this.candidates.get(name);
      if (seen === undefined || seen.size !== info.size || seen.mtimeMs !== info.mtimeMs) {
        this.candidates.set(name, { name, size: info.size, mtimeMs: info.mtimeMs, unchangedSince: now });
        if (this.config.stableMs > 0) continue;
      } else if (now - seen.unchangedSince < this.config.stableMs) {
        continue;
      }
      this.candidates.delete(name);
      this.enqueue({ name, size: info.size, mtimeMs: info.mtimeMs });
      added = true;
    }
    if (this.candidates.size > 0) this.armStableTimer();
    if (added) this.wake();
  }

  /** Look again once pending files may have become stable, rather than a whole poll later. */
  private armStableTimer(): void {
    if (this.stableTimer !== null || this.isStopped()) return;
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      void this.scan();
    }, this.config.stableMs + 10);
  }

  /** Insert in delivery order: oldest mtime first, then name. */
  private enqueue(file: DroppedFile): void {
    this.claimed.add(file.name);
    let lo = 0;
    let hi = this.ready.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (deliveredBefore(this.ready[mid] as DroppedFile, file)) lo = mid + 1;
      else hi = mid;
    }
    this.ready.splice(lo, 0, file);
  }

  private nextReady(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The frame of a stable file, or null when it turned out not to be deliverable (and was dealt with). */
  private async read(file: DroppedFile): Promise<Frame | null> {
    if (!this.extensions.has(path.extname(file.name).toLowerCase())) {
      await this.reject(file, `extension is not one of ${[...this.extensions].join(', ')}`);
      return null;
    }
    let data: Buffer;
    let info: Stats;
    try {
      const handle = await openFile(path.join(this.dir, file.name), 'r');
      try {
        info = await handle.stat();
        data = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (err) {
      this.claimed.delete(file.name);
      if (codeOf(err) === 'ENOENT') {
        this.log.debug({ file: file.name }, 'file vanished before it could be read');
      } else {
        this.framesFailed++;
        this.lastError = `${file.name} cannot be read: ${errorMessage(err)}`;
        this.stuck.set(file.name, identity(file));
        this.log.error({ file: file.name, err: errorMessage(err) }, 'file cannot be read; left in place until it changes');
      }
      return null;
    }
    if (info.size !== file.size || info.mtimeMs !== file.mtimeMs || data.length !== info.size) {
      // Still being written after all: back to the stability check.
      this.claimed.delete(file.name);
      this.scheduleScan();
      return null;
    }
    if (sniffImageType(data) === null) {
      await this.reject(file, 'content is not a JPEG, PNG, BMP, TIFF or WebP image');
      return null;
    }
    return {
      data,
      capturedAt: new Date(file.mtimeMs),
      sourceRef: `${file.name}@${file.size}@${Math.trunc(file.mtimeMs)}`,
      partId: path.parse(file.name).name,
    };
  }

  private async reject(file: DroppedFile, reason: string): Promise<void> {
    this.framesFailed++;
    this.lastError = `${file.name}: ${reason}`;
    try {
      await this.moveInto(['rejected'], file.name);
      this.log.warn({ file: file.name, reason }, 'file is not an image; moved to rejected/');
    } catch (err) {
      if (codeOf(err) !== 'ENOENT') {
        this.stuck.set(file.name, identity(file));
        this.log.error({ file: file.name, reason, err: errorMessage(err) }, 'file is not an image and cannot be moved to rejected/; left in place');
      }
    } finally {
      this.claimed.delete(file.name);
    }
  }

  /** Move without overwriting: cameras restart their counters, so names repeat. */
  private async moveInto(subdirs: string[], name: string): Promise<void> {
    const targetDir = path.join(this.dir, ...subdirs);
    await mkdir(targetDir, { recursive: true });
    const { name: stem, ext } = path.parse(name);
    let target = path.join(targetDir, name);
    for (let n = 1; await exists(target); n++) target = path.join(targetDir, `${stem}-${n}${ext}`);
    await rename(path.join(this.dir, name), target);
  }

  private setState(state: CameraStatus['state'], lastError: string | null): void {
    this.state = state;
    this.lastError = lastError;
  }
}

function deliveredBefore(a: DroppedFile, b: DroppedFile): boolean {
  return a.mtimeMs < b.mtimeMs || (a.mtimeMs === b.mtimeMs && a.name < b.name);
}

function identity(file: { size: number; mtimeMs: number }): string {
  return `${file.size}@${file.mtimeMs}`;
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Local calendar day: operators look for "today's" folder in plant time, not UTC. */
function localDay(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function settleError(name: string, err: unknown): LoupeError {
  return new LoupeError('LOUPE_ERR_CAMERA_SETTLE', `${name} cannot be moved out of the camera folder: ${errorMessage(err)}`, { cause: err });
}
