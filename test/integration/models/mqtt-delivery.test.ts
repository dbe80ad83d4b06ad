import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryOutcome } from '../../../gateway/src/store/model-registry.js';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto.js';
import { startTestGateway, waitFor, type TestGateway } from '../../helpers/gateway-harness.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';
import { demoVersion, incoming, removeVariants, sha256, station } from './model-fixtures.js';

const TOPIC = 'loupe/v1/site/line/station-1/model';

describe('model packages over MQTT (real Mosquitto)', () => {
  let broker: Mosquitto;
  let gw: TestGateway;
  let client: MqttClient;
  let http: Server | null = null;

  beforeAll(async () => {
    broker = await startMosquitto();
    gw = await startTestGateway({
      config: {
        stations: [station()],
        uplink: { enabled: true, brokerUrl: broker.url, clientId: 'gw-models', reconnectMinMs: 100, reconnectMaxMs: 400, pollIntervalMs: 100, metricsIntervalS: 0 },
      },
    });
    const delivery = gw.gateway.modelDelivery;
    if (!delivery) throw new Error('model delivery is off');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the gateway did not subscribe to its model topic within 10 s')), 10_000);
      delivery.once('listening', () => {
        clearTimeout(t);
        resolve();
      });
    });
    client = await connectAsync(broker.url, { clientId: 'model-publisher', protocolVersion: 5 });
  });

  afterAll(async () => {
    await client?.endAsync();
    await gw?.cleanup();
    await broker?.close();
    await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    removeVariants();
    await expectNoOpenSockets();
  });

  /** Publish the messages, then wait (bounded) for the delivery to finish. */
  async function deliver(messages: object[], timeoutMs = 20_000): Promise<DeliveryOutcome> {
    const delivery = gw.gateway.modelDelivery;
    if (!delivery) throw new Error('model delivery is off');
    const finished = new Promise<DeliveryOutcome>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no delivery finished within ${timeoutMs} ms`)), timeoutMs);
      delivery.once('finished', (o) => {
        clearTimeout(t);
        resolve(o);
      });
    });
    for (const m of messages) await client.publishAsync(TOPIC, JSON.stringify(m), { qos: 1 });
    return finished;
  }

  function header(version: string, deliveryId: string) {
    const p = incoming(demoVersion(version));
    return { p, h: { schema: 'loupe.model', schemaVersion: 1, deliveryId, station: 'station-1', sha256: p.sha256, bytes: p.onnx.length, manifest: p.manifest, card: p.card, reason: `retrained ${version}` } };
  }

  it('registers a package sent inline, verified against its sha256', async () => {
    const { p, h } = header('2.1.0', 'dlv-inline');
    const outcome = await deliver([{ ...h, transfer: 'inline', data: p.onnx.toString('base64') }]);
    expect(outcome).toMatchObject({ deliveryId: 'dlv-inline', state: 'registered', modelId: 'demo-part', version: '2.1.0', sha256: p.sha256, transfer: 'inline' });
    const pkg = gw.gateway.models.packages().find((x) => x.version === '2.1.0');
    expect(pkg).toMatchObject({ sha256: sha256(p.onnx), source: 'mqtt', addedBy: 'mqtt:dlv-inline' });
    expect(gw.gateway.models.history('station-1', { limit: 1 })[0]).toMatchObject({ action: 'register', reason: 'retrained 2.1.0' });
  });

  it('assembles a chunked package sent out of order with a chunk repeated, and ignores a redelivery afterwards', async () => {
    const { p, h } = header('2.2.0', 'dlv-chunked');
    const size = Math.ceil(p.onnx.length / 6);
    const chunks = Array.from({ length: 6 }, (_, index) => ({ ...h, transfer: 'chunked', chunk: { index, count: 6, data: p.onnx.subarray(index * size, (index + 1) * size).toString('base64') } }));
    const order = [3, 0, 5, 1, 1, 4, 2];
    const outcome = await deliver(order.map((i) => chunks[i] as object));
    expect(outcome).toMatchObject({ state: 'registered', version: '2.2.0', transfer: 'chunked' });
    expect(gw.gateway.models.packages().find((x) => x.version === '2.2.0')?.sha256).toBe(p.sha256);

    // The broker may send a chunk again (QoS 1): the finished delivery is not reopened.
    await client.publishAsync(TOPIC, JSON.stringify(chunks[2]), { qos: 1 });
    const inline = header('2.2.1', 'dlv-after');
    const next = await deliver([{ ...inline.h, transfer: 'inline', data: inline.p.onnx.toString('base64') }]);
    expect(next.deliveryId).toBe('dlv-after');
    expect(existsSync(join(gw.dataDir, 'models', '.incoming', 'dlv-chunked'))).toBe(false);
  });

  it('refuses a chunked package whose bytes do not match its sha256, and the station keeps its model', async () => {
    const { p, h } = header('2.3.0', 'dlv-corrupt');
    const half = p.onnx.length >> 1;
    const second = Buffer.from(p.onnx.subarray(half));
    second[10] = (second[10] ?? 0) ^ 0x55;
    const outcome = await deliver([
      { ...h, transfer: 'chunked', chunk: { index: 0, count: 2, data: p.onnx.subarray(0, half).toString('base64') } },
      { ...h, transfer: 'chunked', chunk: { index: 1, count: 2, data: second.toString('base64') } },
    ]);
    expect(outcome).toMatchObject({ state: 'refused', code: 'LOUPE_ERR_MODEL_HASH', version: '2.3.0' });
    expect(gw.gateway.models.packages().some((x) => x.version === '2.3.0')).toBe(false);
    const part = await gw.gateway.stations.get('station-1')?.trigger({ via: 'api' });
    expect(part).toMatchObject({ state: expect.not.stringMatching(/^error$/), modelVersion: '1.0.0' });
    expect(gw.gateway.store.db.prepare('SELECT state, code FROM model_delivery WHERE delivery_id = ?').get('dlv-corrupt')).toEqual({ state: 'refused', code: 'LOUPE_ERR_MODEL_HASH' });
  });

  it('judges at start a delivery received before a restart, and drops a partial one past its time', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'loupe-test-'));
    const incomingDir = join(dataDir, 'models', '.incoming');
    const { p, h } = header('2.5.0', 'dlv-resumed');
    const write = (id: string, head: object, parts: Buffer[]) => {
      mkdirSync(join(incomingDir, id), { recursive: true });
      writeFileSync(join(incomingDir, id, 'header.json'), JSON.stringify(head));
      parts.forEach((b, i) => writeFileSync(join(incomingDir, id, `${i}.part`), b));
    };
    write('dlv-resumed', { ...h, deliveryId: 'dlv-resumed', transfer: 'chunked', count: 2, url: null, firstAt: Date.now() }, [p.onnx.subarray(0, 1000), p.onnx.subarray(1000)]);
    write('dlv-stale', { ...h, deliveryId: 'dlv-stale', transfer: 'chunked', count: 3, url: null, firstAt: Date.now() - 48 * 3_600_000 }, [p.onnx.subarray(0, 1000)]);
    const restarted = await startTestGateway({ dataDir, config: { stations: [station()] } });
    try {
      const state = (id: string) => restarted.gateway.store.db.prepare('SELECT state, code FROM model_delivery WHERE delivery_id = ?').get(id);
      const leftover = () => existsSync(join(incomingDir, 'dlv-resumed')) || existsSync(join(incomingDir, 'dlv-stale'));
      await waitFor(() => state('dlv-resumed') !== undefined && state('dlv-stale') !== undefined && !leftover(), 20_000, 'both deliveries judged and cleared');
      expect(state('dlv-resumed')).toEqual({ state: 'registered', code: null });
      expect(state('dlv-stale')).toEqual({ state: 'refused', code: 'LOUPE_ERR_MODEL_DELIVERY' });
      expect(restarted.gateway.models.packages().map((x) => x.version)).toEqual(['2.5.0']);
    } finally {
      await restarted.cleanup();
    }
  });

  it('fetches a package sent by reference and checks it the same way', async () => {
    const { p, h } = header('2.4.0', 'dlv-ref');
    http = createServer((req, res) => {
      if (req.url !== '/pkg/model.onnx') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': p.onnx.length }).end(p.onnx);
    });
    await new Promise<void>((r) => http?.listen(0, '127.0.0.1', () => r()));
    const port = (http.address() as AddressInfo).port;
    const outcome = await deliver([{ ...h, transfer: 'reference', url: `http://127.0.0.1:${port}/pkg/model.onnx` }]);
    expect(outcome).toMatchObject({ state: 'registered', version: '2.4.0', transfer: 'reference' });

    const missing = header('2.4.1', 'dlv-ref-404');
    const gone = await deliver([{ ...missing.h, transfer: 'reference', url: `http://127.0.0.1:${port}/nothing` }]);
    expect(gone).toMatchObject({ state: 'refused', code: 'LOUPE_ERR_MODEL_DELIVERY' });
  });
});
