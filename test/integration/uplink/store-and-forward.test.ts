import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { correctionPayload } from '../../../gateway/src/uplink/correction-payload.js';
import { DatasetSink } from '../../../gateway/src/uplink/sink/dataset-sink.js';
import type { ReceivedCorrection } from '../../../gateway/src/uplink/sink/received-index.js';
import { correctionWire, inspectionWire, metricsWire, statusWire } from '../../../gateway/src/uplink/wire-payloads.js';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto.js';
import { captureLog, ERROR, openPlant, sha256, sinkConfig, uplinkConfig, waitFor, type Plant } from './fixtures.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

let broker: Mosquitto;
let plant: Plant;
let sink: DatasetSink;
const sinkLog = captureLog('info');
const stored: ReceivedCorrection[] = [];
const duplicates: string[] = [];
const running: { stop(): Promise<unknown> }[] = [];
const clients: MqttClient[] = [];

function track<T extends { stop(): Promise<unknown> }>(x: T): T {
  running.push(x);
  return x;
}

async function startSink(): Promise<DatasetSink> {
  const s = new DatasetSink(sinkConfig({ brokerUrl: broker.url, outDir: join(plant.dir, 'sink'), clientId: 'sink-a' }), { log: sinkLog.log });
  s.on('stored', (r) => stored.push(r));
  s.on('duplicate', (id) => duplicates.push(id));
  const subscribed = new Promise((r) => s.once('subscribed', r));
  await s.start();
  await subscribed;
  return s;
}

/** A plain subscriber, to look at the wire as any plant consumer would. */
async function listen(filter: string): Promise<{ messages: { topic: string; json: unknown; retain: boolean }[] }> {
  const c = await connectAsync(broker.url, { protocolVersion: 5, clientId: `look-${Math.random().toString(36).slice(2)}` });
  clients.push(c);
  const messages: { topic: string; json: unknown; retain: boolean }[] = [];
  c.on('message', (topic, payload, packet) => messages.push({ topic, json: JSON.parse(payload.toString()), retain: packet.retain }));
  await c.subscribeAsync(filter, { qos: 1 });
  return { messages };
}

beforeAll(async () => {
  broker = await startMosquitto();
  plant = await openPlant();
  sink = await startSink();
});

// A test that fails half-way must not leave a publisher draining the next test's outbox.
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
  if (!broker.running) await broker.start();
  plant.store.db.exec('DELETE FROM outbox');
});

afterAll(async () => {
  for (const c of clients) await c.endAsync(true);
  await sink?.stop();
  plant?.close();
  await broker?.close();
});

describe('corrections uplink: store and forward through a real Mosquitto', () => {
  it('keeps decisions made while the broker is down and delivers them after it starts: in order, once, images intact', async () => {
    await broker.stop();
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url })));
    uplink.start();
    const parts = await plant.makeParts(8);
    const decisions = parts.map((p, k) => (k % 3 === 0 ? plant.decide(p, 'pass') : plant.decide(p, 'fail', k % 2 ? 'scratch' : 'dent')));

    await waitFor('the uplink to report the broker unreachable', () => uplink.status().lastError?.code === 'LOUPE_ERR_UPLINK_CONNECT');
    const down = uplink.status();
    expect(down.state).toBe('offline');
    expect(down.backlog).toBe(8);
    expect(down.oldestAgeMs).toBeGreaterThanOrEqual(0);
    expect(uplink.linkStatus().state).toBe('down');

    stored.length = 0;
    await broker.start();
    await waitFor('8 corrections at the sink', () => stored.length >= 8, 20_000);
    await waitFor('the outbox to empty', () => plant.store.outbox.backlog().count === 0);

    expect(stored.map((r) => r.correctionId)).toEqual(decisions.map((d) => d.id));
    expect(sink.stats().total).toBe(8);
    for (const r of stored) {
      const original = plant.imageOf(r.inspectionId);
      expect(r.imageState).toBe('stored');
      expect(sha256(readFileSync(join(sink.outDir, r.imageFile ?? '')))).toBe(sha256(original));
      expect(r.imageSha256).toBe(sha256(original));
      const payload = JSON.parse(r.payload) as unknown;
      expect(correctionWire.safeParse({ ...(payload as object), image: { transfer: 'missing', reason: 'pruned' } }).success).toBe(true);
    }
    expect(stored.map((r) => r.label)).toEqual(decisions.map((d) => (d.verdict === 'pass' ? 'good' : d.defectClass)));
    const up = uplink.status();
    expect(up.state).toBe('online');
    expect(up.lastError).toBeNull();
    expect(up.published).toBe(8);
    expect(uplink.linkStatus().state).toBe('ok');
    // One line when the broker went away, one when it came back; not one per retry.
    expect(plant.lines.filter((l) => l.code === 'LOUPE_ERR_UPLINK_CONNECT' && l.level >= 40)).toHaveLength(1);
    expect(plant.lines.some((l) => l.msg.startsWith('connected to') && l.failedAttempts !== undefined)).toBe(true);
    await uplink.stop();
  });

  it('stores a correction the gateway sends again only once, also after the sink restarts', async () => {
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url })));
    uplink.start();
    const [part] = await plant.makeParts(1);
    const d = plant.decide(part!, 'fail', 'crack');
    await waitFor('the correction at the sink', () => stored.some((r) => r.correctionId === d.id));
    await waitFor('its outbox row to go', () => plant.store.outbox.backlog().count === 0);
    const total = sink.stats().total;

    // What a gateway does after a crash between publish and PUBACK: the same message id again.
    const resend = () => {
      const payload = correctionPayload(plant.origin, plant.store.inspections.get(part!.id)!, plant.store.decisions.byId(d.id)!);
      plant.store.outbox.enqueue({ messageId: d.id, kind: 'correction', station: 's1', inspectionId: part!.id, payload });
      uplink.wake();
    };
    resend();
    await waitFor('the duplicate to be recognised', () => duplicates.includes(d.id));
    expect(sink.stats().total).toBe(total);
    await waitFor('the outbox row to go', () => plant.store.outbox.backlog().count === 0);

    await sink.stop();
    duplicates.length = 0;
    sink = await startSink();
    resend();
    await waitFor('the duplicate to be recognised by the restarted sink', () => duplicates.includes(d.id));
    expect(sink.stats().total).toBe(total);
    await waitFor('the outbox to empty', () => plant.store.outbox.backlog().count === 0);
    await uplink.stop();
  });

  it('resumes from the oldest undelivered correction when the gateway restarts mid-drain', async () => {
    const first = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, maxMessagesPerS: 10, maxInFlight: 1 })));
    const parts = await plant.makeParts(12);
    const decisions = parts.map((p) => plant.decide(p, 'pass'));
    stored.length = 0;
    first.start();
    await waitFor('a few corrections through', () => stored.length >= 3);
    await first.stop();
    const after = stored.length;
    expect(after).toBeLessThan(12);
    expect(plant.store.outbox.backlog().count).toBe(12 - after);

    const second = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url })));
    second.start();
    await waitFor('all 12 at the sink', () => stored.length >= 12);
    expect(stored.map((r) => r.correctionId)).toEqual(decisions.map((x) => x.id));
    await waitFor('the outbox to empty', () => plant.store.outbox.backlog().count === 0);
    await second.stop();
  });

  it('holds corrections while no subscriber takes them (MQTT 5), and delivers them once one subscribes', async () => {
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, topicRoot: 'nobody' })));
    uplink.start();
    const parts = await plant.makeParts(3);
    const ids = parts.map((p) => plant.decide(p, 'fail', 'scratch').id);
    await waitFor('the broker to report no subscriber', () => uplink.status().lastError?.message.includes('no matching subscribers'));
    expect(uplink.status().lastError?.code).toBe('LOUPE_ERR_UPLINK_REFUSED');
    expect(plant.store.outbox.backlog().count).toBe(3);
    expect(uplink.linkStatus().state).toBe('degraded');

    const late = track(new DatasetSink(sinkConfig({ brokerUrl: broker.url, topicRoot: 'nobody', outDir: join(plant.dir, 'late-sink'), clientId: 'late-sink' }), { log: captureLog().log }));
    const got: string[] = [];
    late.on('stored', (r) => got.push(r.correctionId));
    await late.start();
    await waitFor('the held corrections', () => got.length === 3, 20_000);
    expect(got).toEqual(ids);
    await waitFor('the outbox to empty', () => plant.store.outbox.backlog().count === 0);
    expect(uplink.status().lastError).toBeNull();
  });

  it('speaks MQTT 3.1.1 end to end when configured (here with QoS 2)', async () => {
    const old = track(new DatasetSink(sinkConfig({ brokerUrl: broker.url, protocolVersion: '3.1.1', topicRoot: 'v311', outDir: join(plant.dir, 'v311-sink'), clientId: 'v311-sink' }), { log: captureLog().log }));
    const got: string[] = [];
    old.on('stored', (r) => got.push(r.correctionId));
    const subscribed = new Promise((r) => old.once('subscribed', r));
    await old.start();
    await subscribed;
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, protocolVersion: '3.1.1', qos: 2, topicRoot: 'v311', clientId: 'gw-v311' })));
    uplink.start();
    const parts = await plant.makeParts(2);
    const ids = parts.map((p) => plant.decide(p, 'pass').id);
    await waitFor('both corrections', () => got.length === 2);
    expect(got).toEqual(ids);
    await waitFor('the outbox to empty', () => plant.store.outbox.backlog().count === 0);
  });

  it('names a client id two gateways share once each, instead of a line per takeover', async () => {
    const before = plant.lines.length;
    const a = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, clientId: 'twin' })));
    const b = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, clientId: 'twin' })));
    a.start();
    b.start();
    await waitFor('several takeovers', () => plant.lines.slice(before).filter((l) => l.code === 'LOUPE_ERR_UPLINK_CLIENT_ID').length >= 6, 20_000);
    const errors = plant.lines.slice(before).filter((l) => l.code === 'LOUPE_ERR_UPLINK_CLIENT_ID' && l.level >= ERROR);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThanOrEqual(2);
    expect(errors[0]?.msg).toMatch(/client id "twin"; give every gateway and sink its own uplink\.clientId/);
  });

  it('publishes a retained online status; the broker publishes the Last Will offline when the gateway vanishes', async () => {
    const proxy: TcpProxy = await startTcpProxy({ host: broker.host, port: broker.port });
    track({ stop: () => proxy.close() });
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: proxy.url, reconnectMinMs: 5000, reconnectMaxMs: 5000 })));
    uplink.start();
    await waitFor('online', () => uplink.status().state === 'online');

    const seen = await listen('loupe/v1/plant-a/line-3/gw-7/status');
    await waitFor('the retained online status', () => seen.messages.length >= 1);
    const online = statusWire.parse(seen.messages[0]?.json);
    expect(seen.messages[0]?.retain).toBe(true);
    expect(online).toMatchObject({ state: 'online', reason: 'connected', gatewayId: 'gw-7', stations: ['s1', 's2'] });

    proxy.cutAll();
    await waitFor('the Last Will', () => seen.messages.some((m) => (m.json as { reason?: string }).reason === 'connection-lost'));
    const will = statusWire.parse(seen.messages.at(-1)?.json);
    expect(will.state).toBe('offline');
    await uplink.stop();
  });

  it('says offline (stopped) on a clean stop, without the Last Will', async () => {
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url })));
    uplink.start();
    await waitFor('online', () => uplink.status().state === 'online');
    const seen = await listen('loupe/v1/plant-a/line-3/gw-7/status');
    await waitFor('retained online', () => seen.messages.some((m) => (m.json as { state?: string }).state === 'online'));
    await uplink.stop();
    await waitFor('offline stopped', () => seen.messages.some((m) => (m.json as { reason?: string }).reason === 'stopped'));
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.messages.some((m) => (m.json as { reason?: string }).reason === 'connection-lost')).toBe(false);
  });

  it('raises the outbox alarm past its budget, keeps every correction, and stops queueing samples until it drains', async () => {
    await broker.stop();
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, outboxMaxRows: 10, outboxWarnRatio: 0.5, inspectionSampleRate: 1 })));
    uplink.start();
    const parts = await plant.makeParts(12);
    for (const p of parts) plant.decide(p, 'pass');
    await waitFor('the alarm', () => uplink.status().alarm === 'full' && plant.metrics.uplinkAlarm.get().then((m) => m.values[0]?.value === 2));
    expect(plant.store.outbox.backlog().count).toBe(12);
    const full = plant.lines.filter((l) => l.code === 'LOUPE_ERR_UPLINK_OUTBOX_FULL' && l.level === ERROR);
    expect(full).toHaveLength(1);
    expect(full[0]?.msg).toMatch(/corrections are kept/);

    // Corrections still queue; samples yield to them.
    const [more] = await plant.makeParts(1);
    plant.decide(more!, 'fail', 'dent');
    uplink.sample({ ...more!, state: 'decided' });
    expect(plant.store.outbox.backlog().count).toBe(13);
    expect((await plant.metrics.uplinkSamplesSkipped.get()).values[0]?.value).toBe(1);

    await broker.start();
    await waitFor('the outbox to drain', () => plant.store.outbox.backlog().count === 0, 20_000);
    await waitFor('the alarm to clear', () => uplink.status().alarm === 'ok' && plant.lines.some((l) => /back within budget/.test(l.msg)));
    await uplink.stop();
  });

  it('publishes sampled inspections and periodic metrics that match their schemas', async () => {
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, inspectionSampleRate: 1, metricsIntervalS: 1 })));
    const inspections = await listen('loupe/v1/+/+/+/inspection');
    const metrics = await listen('loupe/v1/plant-a/line-3/gw-7/metrics');
    uplink.start();
    const parts = await plant.makeParts(2, 's2');
    plant.metrics.parts.inc({ station: 's2', verdict: 'pass' }, 2);
    for (const p of parts) uplink.sample({ ...p, state: 'decided', verdict: 'pass', modelVerdict: 'pass', decidedBy: 'model' });
    await waitFor('2 inspection messages', () => inspections.messages.length >= 2);
    for (const m of inspections.messages) {
      expect(m.topic).toBe('loupe/v1/plant-a/line-3/s2/inspection');
      const msg = inspectionWire.parse(m.json);
      expect(msg.image.transfer).toBe('inline');
      if (msg.image.transfer === 'inline') expect(msg.image.sha256).toBe(sha256(plant.imageOf(msg.inspectionId)));
    }
    await waitFor('a metrics message', () => metrics.messages.length >= 1, 5000);
    const m = metricsWire.parse(metrics.messages[0]?.json);
    expect(m.stations.s2?.parts.pass).toBe(2);
    expect(m.uplink.alarm).toBe('ok');
    await uplink.stop();
  });

  it('exposes state, backlog and acknowledgements in /metrics', async () => {
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url })));
    uplink.start();
    await waitFor('online', () => uplink.status().state === 'online');
    await new Promise((r) => setTimeout(r, 250));
    const text = await plant.metrics.registry.metrics();
    expect(text).toMatch(/^loupe_uplink_connected 1$/m);
    expect(text).toMatch(/^loupe_uplink_backlog_messages 0$/m);
    expect(text).toMatch(/^loupe_uplink_published_total\{kind="correction"\} \d+$/m);
    expect(text).toMatch(/^loupe_uplink_outbox_alarm 0$/m);
    await uplink.stop();
    expect(await plant.metrics.registry.metrics()).toMatch(/^loupe_uplink_connected 0$/m);
  });
});
