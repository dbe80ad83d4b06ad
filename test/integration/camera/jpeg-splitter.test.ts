import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { JpegSplitter } from '../../../gateway/src/camera/jpeg-splitter.js';

const run = promisify(execFile);

/** What ffmpeg writes on its pipe: 12 MJPEG frames back to back. */
let stream: Buffer;
let frames: Buffer[];

beforeAll(async () => {
  const args = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=1.2:size=64x48:rate=10'];
  const out = await run('ffmpeg', [...args, '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', 'pipe:1'], { encoding: 'buffer' });
  stream = out.stdout;
  frames = [];
  for (let i = 0; i < 12; i++) {
    const one = await run('ffmpeg', [...args, '-vf', `select=eq(n\\,${i})`, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', 'pipe:1'], {
      encoding: 'buffer',
    });
    frames.push(one.stdout);
  }
});

function splitIn(data: Buffer, sizes: () => number): { out: Buffer[]; splitter: JpegSplitter } {
  const splitter = new JpegSplitter();
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const size = sizes();
    out.push(...splitter.push(data.subarray(at, at + size)));
    at += size;
  }
  return { out, splitter };
}

describe('JpegSplitter', () => {
  it('cuts an ffmpeg MJPEG pipe into the exact frames, whatever the chunk boundaries', () => {
    for (const sizes of [() => stream.length, () => 1, () => 2, () => 1 + Math.floor(Math.random() * 700)]) {
      const { out, splitter } = splitIn(stream, sizes);
      expect(out).toHaveLength(12);
      out.forEach((frame, i) => expect(frame.equals(frames[i] as Buffer)).toBe(true));
      expect(splitter.dropped).toBe(0);
    }
  });

  it('does not cut a frame short at an EOI marker inside an embedded thumbnail', async () => {
    const thumbnail = frames[0] as Buffer;
    const main = frames[1] as Buffer;
    // An APP1 segment carrying a whole JPEG, as EXIF thumbnails do.
    const payload = Buffer.concat([Buffer.from('Exif\0\0'), thumbnail]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload]);
    const withThumbnail = Buffer.concat([main.subarray(0, 2), app1, main.subarray(2)]);
    expect((await sharp(withThumbnail).metadata()).width).toBe(64);

    const { out } = splitIn(Buffer.concat([withThumbnail, main]), () => 100);
    expect(out).toHaveLength(2);
    expect((out[0] as Buffer).equals(withThumbnail)).toBe(true);
  });

  it('drops a frame cut off mid-stream and resynchronises on the next one', () => {
    const [a, b, c, d] = frames as [Buffer, Buffer, Buffer, Buffer];
    // Cut inside the image data, where almost all of a frame's bytes are.
    const inData = splitIn(Buffer.concat([Buffer.from('garbage'), a.subarray(0, a.length - 50), b, c]), () => 64);
    expect(inData.out.map((f) => f.equals(b) || f.equals(c))).toEqual([true, true]);
    expect(inData.splitter.dropped).toBe(1);

    // Cut inside a header segment: its length swallows the start of the next frame, but no later frame is lost.
    const inHeader = splitIn(Buffer.concat([a.subarray(0, 300), b, c, d]), () => 64);
    expect(inHeader.out.at(-1)?.equals(d)).toBe(true);
    expect(inHeader.splitter.dropped).toBeGreaterThanOrEqual(1);
  });
});
