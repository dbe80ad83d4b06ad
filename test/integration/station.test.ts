import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SyntheticLine } from '../../gateway/src/camera/synthetic/synthetic-line.js';
import { startGateway, type Gateway } from '../../gateway/src/gateway.js';
import { Detector } from '../../gateway/src/vision/detector.js';
import { captureLog } from '../helpers/plc-line.js';
import { silentLog, tempDir, testConfig } from '../helpers/test-config.js';

const tmp = tempDir('loupe-station-');
afterAll(() => tmp.cleanup());
let gateway: Gateway | null = null;
afterEach(async () => {
  await gateway?.stop();
  gateway = null;
});

describe('station pipeline', () => {
  it('inspects synthetic parts with the bundled model, in trigger order, and records each with its image', async () => {
    const cfg = testConfig(join(tmp.dir, 'a'), { stations: [{ id: 's1', trigger: { type: 'api' }, camera: { type: 'synthetic', seed: 99, defectRate: 0.5 } }] });
    gateway = await startGateway(cfg, silentLog);
    const station = gateway.stations.get('s1');
    if (!station) throw new Error('no station');
    const results = await Promise.all(Array.from({ length: 24 }, (_, n) => station.trigger({ via: 'api', partId: `P${n}` }).catch((e: unknown) => e)));
    const inspections = results.filter((r) => !(r instanceof Error));
    // maxInFlight 2 + maxQueued 8: a burst of 24 keeps 10, the rest are refused as missed triggers, not lost silently.
    expect(inspections).toHaveLength(10);
    expect(results.filter((r) => r instanceof Error).map((e) => (e as unknown as { code: string }).code)).toEqual(Array(14).fill('LOUPE_ERR_STATION_BUSY'));
    expect(station.status().missedTriggers).toBe(14);

    const ids: string[] = [];
    station.on('inspected', (i) => ids.push(i.partId));
    for (let n = 0; n < 10; n++) void station.trigger({ via: 'api', partId: `Q${n}` });
    await new Promise((r) => setTimeout(r, 50));
    while (ids.length < 10) await new Promise((r) => setTimeout(r, 20));
    expect(ids).toEqual(ids.slice().sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));

    for (const r of inspections) {
      const i = gateway.store.inspections.get((r as { id: string }).id);
      expect(i?.state).not.toBe('error');
      expect(i?.modelId).toBe('demo-part');
      expect(i?.truth?.label).toBeTypeOf('string');
      expect(i?.timings.inferMs).toBeGreaterThan(0);
      expect(['pass', 'fail', 'review']).toContain(i?.modelVerdict);
      expect(existsSync(gateway.store.images.path(i?.imageRef ?? 'missing'))).toBe(true);
    }
  });

  it('keeps the line going and every consumer informed when one consumer of announced parts throws', async () => {
    const { log, lines } = captureLog();
    const cfg = testConfig(join(tmp.dir, 'listener'), { stations: [{ id: 's1', trigger: { type: 'api' }, camera: { type: 'synthetic', seed: 7 } }] });
    gateway = await startGateway(cfg, log);
    const station = gateway.stations.get('s1');
    if (!station) throw new Error('no station');
    station.on('inspected', (i) => {
      if (i.partId === 'B1') throw new Error('consumer bug');
    });
    const heard: string[] = [];
    station.on('inspected', (i) => heard.push(i.partId));
    for (const partId of ['A1', 'B1', 'C1']) await station.trigger({ via: 'api', partId });
    expect(heard).toEqual(['A1', 'B1', 'C1']);
    expect(gateway.store.inspections.list({ station: 's1', limit: 10 }).map((i) => i.partId).sort()).toEqual(['A1', 'B1', 'C1']);
    expect(lines.filter((l) => l.code === 'LOUPE_ERR_INTERNAL' && l.partId === 'B1')).toHaveLength(1);
  });

  it('records every part without its image when the disk is below its floor, and says so once', async () => {
    const { log, lines } = captureLog();
    // A floor no disk reaches: every image is refused, no row may be lost for it.
    const cfg = testConfig(join(tmp.dir, 'nodisk'), { store: { minFreeDiskMb: 1_000_000_000 }, stations: [{ id: 's1', trigger: { type: 'api' }, camera: { type: 'synthetic', seed: 8 } }] });
    gateway = await startGateway(cfg, log);
    const station = gateway.stations.get('s1');
    if (!station) throw new Error('no station');
    const parts = [];
    for (let n = 0; n < 3; n++) parts.push(await station.trigger({ via: 'api', partId: `N${n}` }));
    expect(parts.map((i) => [i.state === 'error', i.imageRef])).toEqual([[false, null], [false, null], [false, null]]);
    expect(gateway.store.inspections.list({ station: 's1', limit: 10 }).map((i) => i.imageRef)).toEqual([null, null, null]);
    expect(lines.filter((l) => l.code === 'LOUPE_ERR_STORE_DISK_FULL')).toHaveLength(1);
    expect((await gateway.metrics.imagesSkipped.get()).values[0]?.value).toBe(3);
  });

  it('records a corrupt frame as an inspection error, rejects the file, and keeps inspecting', async () => {
    const drop = join(tmp.dir, 'drop');
    mkdirSync(drop);
    const cfg = testConfig(join(tmp.dir, 'b'), {
      stations: [{ id: 's2', camera: { type: 'folder', path: drop, stableMs: 50, pollMs: 100 }, trigger: { type: 'file' } }],
    });
    gateway = await startGateway(cfg, silentLog);
    const line = new SyntheticLine({ seed: 5, widthPx: 256, heightPx: 256, defectRate: 0, defectKinds: ['scratch'], brightness: 1, format: 'jpeg' });
    await line.open();
    const good = (await line.grab()).data;
    const station = gateway.stations.get('s2');
    const seen: { partId: string; state: string; errorCode: string | null }[] = [];
    station?.on('inspected', (i) => seen.push({ partId: i.partId, state: i.state, errorCode: i.errorCode }));
    // JPEG magic bytes, then garbage: passes the folder's image check, fails decoding.
    writeFileSync(join(drop, 'PART-001.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4000, 0x55)]));
    await new Promise((r) => setTimeout(r, 400));
    writeFileSync(join(drop, 'PART-002.jpg'), good);
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([
      { partId: 'PART-001', state: 'error', errorCode: 'LOUPE_ERR_FRAME_DECODE' },
      expect.objectContaining({ partId: 'PART-002', errorCode: null }),
    ]);
    expect(existsSync(join(drop, 'rejected', 'PART-001.jpg'))).toBe(true);
    expect(gateway.metrics.registry.getSingleMetric('loupe_frame_errors_total')).toBeDefined();
    const metrics = await gateway.metrics.registry.metrics();
    expect(metrics).toMatch(/loupe_frame_errors_total\{station="s2",code="LOUPE_ERR_FRAME_DECODE"\} 1/);
  });

  it('records a camera that never answers as a timed-out inspection, not a stopped station', async () => {
    const hang: Server = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const port = (hang.address() as AddressInfo).port;
    try {
      const cfg = testConfig(join(tmp.dir, 'c'), {
        stations: [{ id: 's3', camera: { type: 'http-snapshot', url: `http://127.0.0.1:${port}/snap.jpg`, timeoutMs: 300 }, trigger: { type: 'api' } }],
      });
      gateway = await startGateway(cfg, silentLog);
      const i = await gateway.stations.get('s3')?.trigger({ via: 'api', partId: 'X1' });
      expect(i).toMatchObject({ partId: 'X1', state: 'error', errorCode: 'LOUPE_ERR_CAMERA_TIMEOUT', verdict: null });
      expect(gateway.store.inspections.get(i?.id ?? '')?.errorCode).toBe('LOUPE_ERR_CAMERA_TIMEOUT');
      expect(gateway.stations.get('s3')?.status().running).toBe(true);
    } finally {
      hang.closeAllConnections();
      hang.close();
    }
  });
});

describe('model packages', () => {
  it('refuses a model whose tensors do not match its manifest, naming what differs', async () => {
    const dir = join(tmp.dir, 'bad-model');
    cpSync(join('models', 'demo-part'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { input: { width: number }; labels: string[] };
    manifest.input.width = 64;
    manifest.labels.push('extra');
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const err = await Detector.load({ path: dir, providers: ['cpu'], intraOpThreads: 0, warmupRuns: 0 }, silentLog).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOUPE_ERR_MODEL_MISMATCH' });
    expect(String((err as Error).message)).toMatch(/does not fit NCHW 64x128x3/);
    expect(String((err as Error).message)).toMatch(/7 labels/);
  });

  it('names the missing file and the fix when a model package is incomplete', async () => {
    const err = await Detector.load({ path: join(tmp.dir, 'nowhere'), providers: ['cpu'], intraOpThreads: 0, warmupRuns: 0 }, silentLog).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOUPE_ERR_MODEL_MISSING' });
    expect(String((err as Error).message)).toMatch(/model\.json not found: point stations\[\]\.model\.path at a folder/);
  });

  it('refuses an invalid model.json naming the key', async () => {
    const dir = join(tmp.dir, 'bad-manifest');
    cpSync(join('models', 'demo-part'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { input: { layout: string } };
    manifest.input.layout = 'CHW';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const err = await Detector.load({ path: dir, providers: ['cpu'], intraOpThreads: 0, warmupRuns: 0 }, silentLog).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOUPE_ERR_MODEL_MANIFEST' });
    expect(String((err as Error).message)).toContain('input.layout: got "CHW", expected one of "NCHW", "NHWC"');
  });
});
