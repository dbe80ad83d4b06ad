import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpSnapshot } from '../../../gateway/src/camera/http-snapshot.js';
import type { HttpSnapshotCameraConfig } from '../../../gateway/src/config/sections/camera.js';
import { isLoupeError } from '../../../gateway/src/errors.js';

const log = pino({ level: 'silent' });
let jpeg: Buffer;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  jpeg = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#406080' } }).jpeg().toBuffer();
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A real camera stand-in on a free loopback port. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function camera(overrides: Partial<HttpSnapshotCameraConfig> & { url: string }): Promise<HttpSnapshot> {
  const source = new HttpSnapshot({ type: 'http-snapshot', timeoutMs: 2000, headers: {}, ...overrides }, log);
  cleanup.push(() => source.close());
  await source.open();
  return source;
}

function code(expected: string) {
  return (err: unknown) => isLoupeError(err) && err.code === expected;
}

describe('HttpSnapshot', () => {
  it('delivers the image the camera serves, with extra headers sent', async () => {
    let seenHeader: string | undefined;
    const { base } = await serve((req, res) => {
      seenHeader = req.headers['x-station'] as string | undefined;
      // Cameras often mislabel JPEGs; the bytes decide.
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(jpeg);
    });
    const source = await camera({ url: `${base}/snapshot.jpg`, headers: { 'X-Station': 'press-3' } });
    const frame = await source.grab();
    expect(frame.data.equals(jpeg)).toBe(true);
    expect(frame.sourceRef).toBe(`${base}/snapshot.jpg`);
    expect(seenHeader).toBe('press-3');
    expect(source.status()).toMatchObject({ state: 'ok', framesGrabbed: 1, framesFailed: 0, lastError: null });
  });

  it('sends basic auth from the config or the URL, and keeps the credentials out of sourceRef', async () => {
    const expected = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;
    const { base } = await serve((req, res) => {
      if (req.headers.authorization !== expected) res.writeHead(401, { 'www-authenticate': 'Basic realm="cam"' }).end();
      else res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    });
    const fromFields = await camera({ url: `${base}/snap`, username: 'admin', password: 's3cret' });
    expect((await fromFields.grab()).data.equals(jpeg)).toBe(true);

    const fromUrl = await camera({ url: `${base.replace('//', '//admin:s3cret@')}/snap` });
    const frame = await fromUrl.grab();
    expect(frame.sourceRef).toBe(`${base}/snap`);

    const wrong = await camera({ url: `${base}/snap`, username: 'admin', password: 'guess' });
    const err = await wrong.grab().catch((e: unknown) => e);
    expect(isLoupeError(err, 'LOUPE_ERR_CAMERA_UNAVAILABLE')).toBe(true);
    expect(isLoupeError(err) && err.details).toMatchObject({ status: 401 });
    expect(isLoupeError(err) && err.message).not.toContain('guess');
  });

  it('gives up on a camera that never answers within timeoutMs', async () => {
    const { base } = await serve(() => {
      // Accept the request and say nothing, like a camera whose web server hung.
    });
    const source = await camera({ url: `${base}/snap?pwd=hunter2`, timeoutMs: 300 });
    const started = Date.now();
    const err = await source.grab().catch((e: unknown) => e);
    expect(isLoupeError(err, 'LOUPE_ERR_CAMERA_TIMEOUT')).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(isLoupeError(err) && err.message).not.toContain('hunter2');
  });

  it('reports a camera that answers 500 or refuses connections as unavailable, then down', async () => {
    const { base } = await serve((_req, res) => res.writeHead(500).end('internal error'));
    const source = await camera({ url: `${base}/snap` });
    await expect(source.grab()).rejects.toSatisfy(code('LOUPE_ERR_CAMERA_UNAVAILABLE'));
    expect(source.status().state).toBe('degraded');
    await expect(source.grab()).rejects.toSatisfy(code('LOUPE_ERR_CAMERA_UNAVAILABLE'));
    await expect(source.grab()).rejects.toSatisfy(code('LOUPE_ERR_CAMERA_UNAVAILABLE'));
    expect(source.status()).toMatchObject({ state: 'down', framesFailed: 3 });

    const closed = await serve(() => undefined);
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    const refused = await camera({ url: `${closed.base}/snap` });
    await expect(refused.grab()).rejects.toSatisfy(code('LOUPE_ERR_CAMERA_UNAVAILABLE'));
  });

  it('refuses a body that is not an image and recovers when images come back', async () => {
    let html = true;
    const { base } = await serve((_req, res) => {
      if (html) res.writeHead(200, { 'content-type': 'image/jpeg' }).end('<html>session expired</html>');
      else res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    });
    const source = await camera({ url: `${base}/snap` });
    await expect(source.grab()).rejects.toSatisfy(code('LOUPE_ERR_FRAME_DECODE'));
    expect(source.status().state).toBe('degraded');
    html = false;
    await source.grab();
    expect(source.status()).toMatchObject({ state: 'ok', lastError: null, framesGrabbed: 1, framesFailed: 1 });
  });

  it('passes the caller abort through instead of blaming the camera', async () => {
    const { base } = await serve(() => undefined);
    const source = await camera({ url: `${base}/snap` });
    const abort = new AbortController();
    const grab = source.grab(abort.signal).catch((e: unknown) => e);
    setTimeout(() => abort.abort(new Error('station stopping')), 50);
    const err = await grab;
    expect(err).toBeInstanceOf(Error);
    expect(isLoupeError(err)).toBe(false);
    expect(source.status().framesFailed).toBe(0);
  });
});
