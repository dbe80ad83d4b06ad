import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegStream } from '../../../gateway/src/camera/ffmpeg-stream.js';
import type { FfmpegCameraConfig } from '../../../gateway/src/config/sections/camera.js';
import { isLoupeError } from '../../../gateway/src/errors.js';
import { childPidsWithArg, processExists } from '../../helpers/camera-child-pids.js';
import { makeTempDir, type TempDir } from '../../helpers/camera-temp-dir.js';
import { waitUntil } from '../../helpers/camera-wait.js';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
const FFMPEG = 'ffmpeg';

let dir: TempDir;
/** 2 s of ffmpeg's test pattern, 64x48 at 10 fps: a recording to replay as a camera. */
let video: string;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  dir = await makeTempDir('ffmpeg');
  video = path.join(dir.path, 'line.mp4');
  await run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=2:size=64x48:rate=10', '-c:v', 'mpeg4', video]);
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

afterAll(async () => {
  await dir.remove();
});

async function stream(overrides: Partial<FfmpegCameraConfig> = {}): Promise<FfmpegStream> {
  const source = new FfmpegStream(
    {
      type: 'ffmpeg',
      input: video,
      ffmpegPath: FFMPEG,
      rtspTransport: 'tcp',
      fps: 10,
      loop: true,
      frameTimeoutMs: 1000,
      reconnectMinMs: 100,
      reconnectMaxMs: 1000,
      ...overrides,
    },
    log,
  );
  cleanup.push(() => source.close());
  await source.open();
  return source;
}

describe('FfmpegStream', () => {
  it('delivers fresh JPEG frames of the stream size while the recording loops', async () => {
    const source = await stream();
    const first = await source.grab();
    const meta = await sharp(first.data).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
    expect(first.sourceRef).toMatch(/line\.mp4#\d+$/);

    // Past the end of the 2 s file: looping keeps frames coming without a reconnect.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const later = await source.grab();
    expect(later.sourceRef).not.toBe(first.sourceRef);
    expect(Date.now() - later.capturedAt.getTime()).toBeLessThanOrEqual(1000);
    expect((await sharp(later.data).metadata()).width).toBe(64);
    expect(source.status()).toMatchObject({ state: 'ok', framesGrabbed: 2, framesFailed: 0 });
  }, 10_000);

  it('fails open() with LOUPE_ERR_FFMPEG_MISSING when the binary does not exist', async () => {
    const err = await stream({ ffmpegPath: path.join(dir.path, 'no-such-ffmpeg') }).catch((e: unknown) => e);
    expect(isLoupeError(err, 'LOUPE_ERR_FFMPEG_MISSING')).toBe(true);
  });

  it('reconnects after ffmpeg is killed and frames flow again', async () => {
    const source = await stream();
    await source.grab();
    const [pid] = await childPidsWithArg(video);
    expect(pid).toBeTypeOf('number');
    process.kill(pid as number, 'SIGKILL');
    await waitUntil('the stream to notice', () => source.status().state === 'degraded', 3000, 5);
    await waitUntil('the stream to recover', () => source.status().state === 'ok', 5000);
    const frame = await source.grab();
    expect((await sharp(frame.data).metadata()).height).toBe(48);
    const [next] = await childPidsWithArg(video);
    expect(next).not.toBe(pid);
    expect(await processExists(pid as number)).toBe(false);
  }, 10_000);

  it('restarts a recording that ends when loop is off', async () => {
    const source = await stream({ loop: false, reconnectMinMs: 200 });
    await source.grab();
    await waitUntil('the end of the recording', () => source.status().state === 'degraded', 4000, 5);
    expect(source.status().lastError).not.toBeNull();
    await waitUntil('the recording to play again', () => source.status().state === 'ok', 4000);
    expect((await sharp((await source.grab()).data).metadata()).format).toBe('jpeg');
  }, 10_000);

  it('times out a grab when the stream sends nothing, and close() reaps ffmpeg', async () => {
    // ffmpeg blocks opening a FIFO nobody writes to: a camera that accepted the connection and went quiet.
    const fifo = path.join(dir.path, 'silent.fifo');
    await run('mkfifo', [fifo]);
    const source = await stream({ input: fifo, inputFormat: 'mjpeg', frameTimeoutMs: 300 });
    const started = Date.now();
    const err = await source.grab().catch((e: unknown) => e);
    expect(isLoupeError(err, 'LOUPE_ERR_CAMERA_TIMEOUT')).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(source.status().framesFailed).toBe(1);

    const [pid] = await childPidsWithArg(fifo);
    expect(pid).toBeTypeOf('number');
    await source.close();
    expect(await processExists(pid as number)).toBe(false);
    expect(source.status().state).toBe('stopped');
  }, 10_000);
});
