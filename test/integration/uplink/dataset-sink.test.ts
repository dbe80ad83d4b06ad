import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { currentPack } from '../../../gateway/src/uplink/sink/dataset-packer.js';
import { DatasetSink } from '../../../gateway/src/uplink/sink/dataset-sink.js';
import type { ReceivedCorrection } from '../../../gateway/src/uplink/sink/received-index.js';
import { resizeForModel } from '../../../gateway/src/vision/preprocess.js';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto.js';
import { captureLog, openPlant, sha256, sinkConfig, uplinkConfig, waitFor, type Plant } from './fixtures.js';

let broker: Mosquitto;
let plant: Plant;
const running: { stop(): Promise<unknown> }[] = [];
const clients: MqttClient[] = [];

function track<T extends { stop(): Promise<unknown> }>(x: T): T {
  running.push(x);
  return x;
}

async function startSink(over: Record<string, unknown>): Promise<{ sink: DatasetSink; stored: ReceivedCorrection[] }> {
  const sink = track(new DatasetSink(sinkConfig({ brokerUrl: broker.url, ...over }), { log: captureLog('info').log }));
  const stored: ReceivedCorrection[] = [];
  sink.on('stored', (r) => stored.push(r));
  const subscribed = new Promise((r) => sink.once('subscribed', r));
  await sink.start();
  await subscribed;
  return { sink, stored };
}

function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  broker = await startMosquitto();
  plant = await openPlant();
});

afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
  // Each test leaves an empty outbox for the next.
  plant.store.db.exec('DELETE FROM outbox');
});

afterAll(async () => {
  for (const c of clients) await c.endAsync(true);
  plant?.close();
  await broker?.close();
});

describe('loupe dataset-sink', () => {
  it('waits for a broker that is away at start, stores what arrives and packs it, on SIGTERM, into the dataset train.py reads', async () => {
    await broker.stop();
    const outDir = join(plant.dir, 'cli-sink');
    const file = join(plant.dir, 'sink.yaml');
    writeFileSync(file, [`brokerUrl: ${broker.url}`, `outDir: ${JSON.stringify(outDir)}`, 'clientId: cli-sink', 'topicRoot: cli', 'valPercent: 20', 'testPercent: 20'].join('\n'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'gateway/src/main.ts'), 'dataset-sink', '--config', file, '--model', 'models/demo-part', '--log-level', 'debug'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOUPE_SINK__RECONNECT_MIN_MS: '100' },
    });
    track({ stop: async () => void child.kill('SIGKILL') });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor('the sink to find the broker away', () => out.includes('LOUPE_ERR_UPLINK_CONNECT'), 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).toBeNull();
    await broker.start();
    await waitFor('the sink to subscribe', () => out.includes('"msg":"subscribed to $share/loupe-dataset/cli/v1/+/+/+/correction"'), 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${out}`);
    });

    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, topicRoot: 'cli', clientId: 'gw-cli' })));
    uplink.start();
    const parts = await plant.makeParts(12);
    const classes = ['scratch', 'dent', 'crack', 'contamination', 'missing_hole'];
    parts.forEach((p, k) => (k % 4 === 0 ? plant.decide(p, 'pass') : plant.decide(p, 'fail', k === 11 ? 'other' : classes[k % 5])));
    await waitFor('12 corrections stored', () => (out.match(/"msg":"correction stored"/g) ?? []).length === 12, 20_000);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const pack = await currentPack(outDir);
    expect(pack).not.toBeNull();
    const summary = JSON.parse(readFileSync(join(pack!, 'summary.json'), 'utf8')) as { corrections: number; packed: { train: number; val: number; test: number }; labels: string[]; skipped: { label: Record<string, number> } };
    expect(summary.corrections).toBe(12);
    expect(summary.labels).toEqual(['good', 'scratch', 'dent', 'crack', 'contamination', 'missing_hole']);
    expect(summary.skipped.label).toEqual({ other: 1 });
    expect(summary.packed.train + summary.packed.val + summary.packed.test).toBe(11);
    expect(existsSync(join(pack!, 'examples', 'good'))).toBe(true);

    // The first packed sample holds exactly the pixels the gateway would feed the model.
    const rows = readFileSync(join(pack!, 'corrections.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { split: string; correctionId: string; imageFile: string; classIndex: number });
    const first = rows.find((r) => r.split === 'train')!;
    const original = readFileSync(join(outDir, first.imageFile));
    const packed = readFileSync(join(pack!, 'train', 'images.u8')).subarray(0, 128 * 128 * 3);
    expect(Buffer.compare(packed, await resizeForModel(original, 128, 128))).toBe(0);
    const part = parts.find((p) => plant.store.decisions.forInspection(p.id)?.id === first.correctionId)!;
    expect(sha256(original)).toBe(sha256(plant.imageOf(part.id)));

    if (!hasNumpy()) return;
    const script = [
      'import json, sys',
      "sys.path.insert(0, 'models/training')",
      'import dataset',
      's = dataset.load(sys.argv[1])',
      "print(json.dumps({k: {'n': len(v), 'labels': v.labels, 'shape': list(v.images.shape), 'targets': [int(t) for t in v.targets]} for k, v in s.items()}))",
    ].join('\n');
    const loaded = JSON.parse(execFileSync('python3', ['-c', script, join(outDir, 'dataset')], { encoding: 'utf8' })) as Record<string, { n: number; labels: string[]; shape: number[]; targets: number[] }>;
    for (const split of ['train', 'val', 'test']) {
      expect(loaded[split]?.n).toBe(summary.packed[split as 'train' | 'val' | 'test']);
      expect(loaded[split]?.labels).toEqual(summary.labels);
      expect(loaded[split]?.shape.slice(1)).toEqual([128, 128, 3]);
    }
    expect(loaded.train?.targets[0]).toBe(first.classIndex);
  });

  it('keeps a message that is not a valid correction under rejected/, acknowledges it, and goes on', async () => {
    const { sink, stored } = await startSink({ outDir: join(plant.dir, 'reject-sink'), clientId: 'reject-sink', topicRoot: 'rej' });
    const rejected: { code: string; file: string }[] = [];
    sink.on('rejected', (r) => rejected.push(r));
    const raw = await connectAsync(broker.url, { protocolVersion: 5 });
    clients.push(raw);
    await raw.publishAsync('rej/v1/plant-a/line-3/s1/correction', 'not json', { qos: 1 });
    await raw.publishAsync('rej/v1/plant-a/line-3/s1/correction', JSON.stringify({ schema: 'loupe.correction', schemaVersion: 2, correctionId: 'x' }), { qos: 1 });

    // A correction whose image does not match the hash it claims.
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, topicRoot: 'rej', clientId: 'gw-rej' })));
    const [bad, good] = await plant.makeParts(2);
    const inspection = plant.store.inspections.get(bad!.id)!;
    const d = plant.decide(bad!, 'fail', 'dent');
    const stored0 = JSON.parse(plant.store.db.prepare<[string], { payload: string }>('SELECT payload FROM outbox WHERE message_id = ?').get(d.id)!.payload) as Record<string, unknown>;
    plant.store.db.exec('DELETE FROM outbox');
    const { imageRef: _ref, ...wire } = stored0;
    const data = plant.imageOf(inspection.id);
    await raw.publishAsync(
      'rej/v1/plant-a/line-3/s1/correction',
      JSON.stringify({ ...wire, image: { transfer: 'inline', mediaType: 'image/jpeg', bytes: data.length, sha256: sha256(Buffer.from('something else')), data: data.toString('base64') } }),
      { qos: 1 },
    );
    await waitFor('three rejections', () => rejected.length === 3);
    expect(rejected.map((r) => r.code)).toEqual(['LOUPE_ERR_UPLINK_PAYLOAD', 'LOUPE_ERR_UPLINK_PAYLOAD', 'LOUPE_ERR_UPLINK_IMAGE']);
    for (const r of rejected) expect(existsSync(join(sink.outDir, r.file))).toBe(true);

    uplink.start();
    const ok = plant.decide(good!, 'pass');
    await waitFor('the next valid correction', () => stored.some((r) => r.correctionId === ok.id));
    expect(sink.stats()).toMatchObject({ received: 1, rejected: 3, total: 1 });
  });

  it('fetches images sent by reference with the configured header, and retries one the gateway could not serve yet', async () => {
    // A stand-in for the gateway's GET /api/inspections/:id/image (bearer token, image bytes).

    let serving = true;
    const server: Server = createServer((req, res) => {
      const m = /^\/api\/inspections\/([^/]+)\/image$/.exec(req.url ?? '');
      if (req.headers.authorization !== 'Bearer read-token') return void res.writeHead(401).end();
      if (!serving) return void res.writeHead(503).end();
      if (!m?.[1]) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(plant.imageOf(decodeURIComponent(m[1])));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    track({ stop: () => new Promise((r) => server.close(() => r(undefined))) });
    const addr = server.address();
    const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

    const { sink, stored } = await startSink({ outDir: join(plant.dir, 'ref-sink'), clientId: 'ref-sink', topicRoot: 'ref', imageFetchHeaders: { authorization: 'Bearer read-token' } });
    // Inline mode, but the cap is below any frame: they go by reference.
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, topicRoot: 'ref', clientId: 'gw-ref', imageMode: 'inline', imageInlineMaxKb: 1 }), { publicUrl: base }));
    uplink.start();
    const [a, b] = await plant.makeParts(2);
    plant.decide(a!, 'fail', 'crack');
    await waitFor('the first correction', () => stored.length === 1);
    expect(stored[0]?.imageState).toBe('stored');
    expect(JSON.parse(stored[0]!.payload).image).toMatchObject({ transfer: 'reference', reason: 'over-inline-cap', url: `${base}/api/inspections/${a!.id}/image` });
    expect(sha256(readFileSync(join(sink.outDir, stored[0]!.imageFile!)))).toBe(sha256(plant.imageOf(a!.id)));

    serving = false;
    plant.decide(b!, 'pass');
    await waitFor('the second correction', () => stored.length === 2);
    expect(stored[1]?.imageState).toBe('pending');
    serving = true;
    const summary = await sink.pack();
    expect(summary?.skipped.imagePending).toBe(0);
    const packed = summary!.packed;
    expect(packed.train + packed.val + packed.test).toBe(2);
  });

  it('lets two sinks in one shared-subscription group split the stream, storing each correction once', async () => {
    const outDir = join(plant.dir, 'shared-sink');
    const one = await startSink({ outDir, clientId: 'shared-1', topicRoot: 'shr' });
    const two = await startSink({ outDir, clientId: 'shared-2', topicRoot: 'shr' });
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, topicRoot: 'shr', clientId: 'gw-shr' })));
    uplink.start();
    const parts = await plant.makeParts(10);
    const ids = parts.map((p) => plant.decide(p, 'pass').id);
    await waitFor('10 corrections between the two', () => one.stored.length + two.stored.length === 10);
    expect(one.stored.length).toBeGreaterThan(0);
    expect(two.stored.length).toBeGreaterThan(0);
    expect([...one.stored, ...two.stored].map((r) => r.correctionId).sort()).toEqual([...ids].sort());
    expect(one.sink.stats().total).toBe(10);
  });
});
