import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { FfmpegCameraConfig } from '../config/sections/camera.js';
import { errorMessage, LoupeError } from '../errors.js';
import type { Frame } from './frame.js';
import type { CameraStatus, FrameSource } from './frame-source.js';
import { JpegSplitter } from './jpeg-splitter.js';
import { redactUrl } from './redact-url.js';

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** Reconnects without a frame in between after which the camera shows as down rather than degraded. */
const DOWN_AFTER_FAILURES = 3;
/** Reconnects logged one by one; after that only state changes are, so a dead camera does not flood the log. */
const LOGGED_RETRIES = 3;
/** ffmpeg gets this long to exit on SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2000;
/** Opening an RTSP stream probes it for up to 5 s (ffmpeg's analyzeduration) before the first frame. */
const FIRST_FRAME_GRACE_MS = 10_000;
const STDERR_LINES = 8;

interface Waiter {
  resolve(frame: Frame): void;
  reject(err: unknown): void;
}

/**
 * Any stream ffmpeg can read (RTSP, MJPEG over HTTP, V4L2, a recording),
 * decoded continuously at `fps` and held as the latest frame, so a trigger
 * gets an image at once instead of waiting for a stream to open.
 *
 * ffmpeg re-encodes to MJPEG on the pipe rather than PNG: JPEG frames are
 * cut apart by their markers without parsing chunk lengths, are 5-10x smaller
 * to move through the pipe, and libjpeg-turbo decodes them several times
 * faster than zlib inflates a PNG of the same size.
 */
export class FfmpegStream implements FrameSource {
  readonly type = 'ffmpeg';
  private readonly config: FfmpegCameraConfig;
  private readonly log: Logger;
  private readonly publicInput: string;
  private readonly args: string[];
  /** A frame older than this means the stream is stuck even though ffmpeg still runs. */
  private readonly stallMs: number;

  private state: CameraStatus['state'] = 'stopped';
  private lastError: string | null = null;
  private framesGrabbed = 0;
  private framesFailed = 0;

  private child: Child | null = null;
  private childClosed: Promise<void> = Promise.resolve();
  /** A spawn under way, which close() must wait for so the child it yields is killed too. */
  private spawning: Promise<void> | null = null;
  private stderrTail: string[] = [];
  private lastFrameAt = 0;
  private stalled = false;
  private watchdog: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private consecutiveFailures = 0;
  private latest: { frame: Frame; at: number } | null = null;
  private sequence = 0;
  private readonly waiters = new Set<Waiter>();

  constructor(config: FfmpegCameraConfig, log: Logger) {
    this.config = config;
    this.publicInput = redactUrl(config.input);
    this.log = log.child({ camera: this.type, input: this.publicInput });
    this.args = ffmpegArgs(config);
    this.stallMs = Math.max(config.frameTimeoutMs, 3 * (1000 / config.fps));
  }

  /** Starts ffmpeg; resolves once it runs, before the first frame (a camera may take seconds to answer). */
  async open(): Promise<void> {
    if (this.state !== 'stopped') return;
    this.state = 'starting';
    try {
      await this.spawnFfmpeg();
    } catch (err) {
      this.state = 'stopped';
      throw err;
    }
  }

  async grab(signal?: AbortSignal): Promise<Frame> {
    if (this.state === 'stopped') throw new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', 'ffmpeg camera is not open');
    signal?.throwIfAborted();
    const latest = this.latest;
    const frame = latest !== null && Date.now() - latest.at <= this.config.frameTimeoutMs ? latest.frame : await this.nextFrame(signal);
    this.framesGrabbed++;
    return frame;
  }

  status(): CameraStatus {
    return { state: this.state, lastError: this.lastError, framesGrabbed: this.framesGrabbed, framesFailed: this.framesFailed };
  }

  async close(): Promise<void> {
    this.state = 'stopped';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const waiter of this.waiters) waiter.reject(new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', 'ffmpeg camera was closed'));
    this.waiters.clear();
    this.latest = null;
    await this.spawning?.catch(() => undefined);
    this.stopWatchdog();
    const child = this.child;
    this.child = null;
    if (child !== null) await terminate(child, this.childClosed);
  }

  private nextFrame(signal?: AbortSignal): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        resolve: (frame) => {
          finish();
          resolve(frame);
        },
        reject: (err) => {
          finish();
          reject(err);
        },
      };
      const onAbort = () => waiter.reject(signal?.reason);
      const timer = setTimeout(() => {
        this.framesFailed++;
        const why = this.lastError === null ? '' : ` (${this.lastError})`;
        waiter.reject(new LoupeError('LOUPE_ERR_CAMERA_TIMEOUT', `${this.publicInput} sent no frame within ${this.config.frameTimeoutMs} ms${why}`));
      }, this.config.frameTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Resolves once ffmpeg runs; rejects when it cannot be started at all. */
  private spawnFfmpeg(): Promise<void> {
    const spawning = new Promise<void>((resolve, reject) => {
      const child = spawn(this.config.ffmpegPath, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.once('error', (err: NodeJS.ErrnoException) => {
        // After a successful spawn, 'error' only reports a failed kill; 'close' still follows.
        if (child.pid !== undefined) return;
        reject(
          err.code === 'ENOENT'
            ? new LoupeError(
                'LOUPE_ERR_FFMPEG_MISSING',
                `ffmpeg not found at "${this.config.ffmpegPath}": install it (apt-get install ffmpeg) or set camera.ffmpegPath`,
                { cause: err },
              )
            : new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', `ffmpeg at "${this.config.ffmpegPath}" cannot be started: ${err.message}`, { cause: err }),
        );
      });
      child.once('spawn', () => {
        this.child = child;
        this.childClosed = new Promise((closed) => {
          child.once('close', (code, signal) => {
            closed();
            this.onExit(child, code, signal);
          });
        });
        this.watch(child);
        this.log.debug({ pid: child.pid }, 'ffmpeg started');
        resolve();
      });
    });
    this.spawning = spawning;
    return spawning.finally(() => {
      if (this.spawning === spawning) this.spawning = null;
    });
  }

  private watch(child: Child): void {
    const splitter = new JpegSplitter();
    let dropped = 0;
    this.stderrTail = [];
    this.stalled = false;
    this.lastFrameAt = Date.now() + FIRST_FRAME_GRACE_MS;
    child.stdout.on('data', (chunk: Buffer) => {
      for (const data of splitter.push(chunk)) this.onFrame(data);
      this.framesFailed += splitter.dropped - dropped;
      dropped = splitter.dropped;
    });
    let partial = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      const lines = (partial + text).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') this.stderrTail.push(line.trim().slice(0, 300));
      this.stderrTail.splice(0, this.stderrTail.length - STDERR_LINES);
    });
    this.stopWatchdog();
    this.watchdog = setInterval(
      () => {
        if (this.child !== child || this.stalled || Date.now() - this.lastFrameAt <= this.stallMs) return;
        this.stalled = true;
        void terminate(child, this.childClosed);
      },
      Math.min(1000, this.stallMs / 4),
    );
  }

  private onFrame(data: Buffer): void {
    if (this.state === 'stopped') return; // the last bytes of a stream being closed
    const now = Date.now();
    this.lastFrameAt = now;
    const frame: Frame = { data, capturedAt: new Date(now), sourceRef: `${this.publicInput}#${++this.sequence}` };
    this.latest = { frame, at: now };
    for (const waiter of [...this.waiters]) waiter.resolve(frame);
    if (this.state !== 'ok') {
      if (this.state === 'starting') this.log.info('stream started');
      else this.log.info({ reconnects: this.consecutiveFailures }, 'stream recovered');
      this.state = 'ok';
      this.lastError = null;
    }
    this.consecutiveFailures = 0;
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return; // closed on purpose
    this.child = null;
    this.stopWatchdog();
    const how = this.stalled
      ? `stream stalled: no frame for ${this.stallMs} ms`
      : signal !== null
        ? `ffmpeg was killed (${signal})`
        : code === 0
          ? 'ffmpeg reached the end of the input'
          : `ffmpeg exited with code ${code}`;
    const output = this.stderrTail.join(' | ');
    this.failed(output === '' ? how : `${how}: ${output}`);
  }

  private failed(reason: string): void {
    if (this.state === 'stopped') return;
    this.consecutiveFailures++;
    this.lastError = reason;
    const next = this.consecutiveFailures >= DOWN_AFTER_FAILURES ? 'down' : 'degraded';
    const delayMs = this.backoffMs();
    const line = { attempt: this.consecutiveFailures, retryInMs: delayMs, reason };
    if (next !== this.state) {
      if (next === 'down') this.log.error(line, 'stream down; still reconnecting');
      else this.log.warn(line, 'stream lost; reconnecting');
    } else if (this.consecutiveFailures <= LOGGED_RETRIES) {
      this.log.warn(line, 'reconnect failed');
    }
    this.state = next;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.spawnFfmpeg().catch((err: unknown) => this.failed(errorMessage(err)));
    }, delayMs);
  }

  /** Doubling from reconnectMinMs to reconnectMaxMs; jitter keeps many cameras from reconnecting in step after a network blip. */
  private backoffMs(): number {
    const base = Math.min(this.config.reconnectMaxMs, this.config.reconnectMinMs * 2 ** Math.min(this.consecutiveFailures - 1, 30));
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }
}

function ffmpegArgs(c: FfmpegCameraConfig): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  if (/^rtsps?:\/\//i.test(c.input)) args.push('-rtsp_transport', c.rtspTransport);
  if (c.inputFormat !== undefined) args.push('-f', c.inputFormat);
  if (c.loop) args.push('-stream_loop', '-1');
  // A recording is read at its own frame rate, as a camera would send it; unthrottled, ffmpeg would
  // decode it in a blink and only its last frame would survive.
  if (c.loop || isRecording(c)) args.push('-re');
  args.push('-i', c.input, '-an', '-vf', `fps=${c.fps}`, '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', 'pipe:1');
  return args;
}

/** A file on disk, as opposed to a URL or a capture device. */
function isRecording(c: FfmpegCameraConfig): boolean {
  return c.inputFormat === undefined && !/^[a-z][a-z0-9+.-]+:\/\//i.test(c.input) && !c.input.startsWith('/dev/');
}

/** SIGTERM, then SIGKILL after a grace; resolves once the child is reaped, so no zombie is left. */
async function terminate(child: Child, closed: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
  try {
    await closed;
  } finally {
    clearTimeout(timer);
  }
}
