import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../gateway/src/config/load.js';
import { isLoupeError } from '../../../gateway/src/errors.js';
import { DatasetSink } from '../../../gateway/src/uplink/sink/dataset-sink.js';
import { loadSinkConfig } from '../../../gateway/src/uplink/sink/sink-config.js';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto.js';
import { captureLog, ERROR, openPlant, uplinkConfig, waitFor, type Plant } from './fixtures.js';

const GATEWAY_PASSWORD = 'gw-7 s3cret';
const SINK_PASSWORD = 'sink pw';

let broker: Mosquitto;
let mtlsBroker: Mosquitto;
let plant: Plant;
const running: { stop(): Promise<unknown> }[] = [];

function track<T extends { stop(): Promise<unknown> }>(x: T): T {
  running.push(x);
  return x;
}

beforeAll(async () => {
  const acl = ['user gateway', 'topic write loupe/#', 'user sink', 'topic read loupe/#', ''].join('\n');
  [broker, mtlsBroker] = await Promise.all([
    startMosquitto({ tls: true, users: { gateway: GATEWAY_PASSWORD, sink: SINK_PASSWORD }, acl }),
    startMosquitto({ tls: { requireClientCert: true } }),
  ]);
  plant = await openPlant();
});

afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

afterAll(async () => {
  plant?.close();
  await broker?.close();
  await mtlsBroker?.close();
});

describe('corrections uplink: TLS and credentials', () => {
  it('delivers over TLS with the CA from the config file and passwords from the environment', async () => {
    const gwFile = join(plant.dir, 'loupe.yaml');
    writeFileSync(
      gwFile,
      [
        'gateway: { site: plant-a, line: line-3, id: gw-7 }',
        'uplink:',
        '  enabled: true',
        `  brokerUrl: ${broker.url}`,
        '  username: gateway',
        `  tls: { caFile: ${JSON.stringify(broker.certs?.caFile)} }`,
        '  reconnectMinMs: 100',
      ].join('\n'),
    );
    const cfg = loadConfig(gwFile, { LOUPE__UPLINK__PASSWORD: GATEWAY_PASSWORD }, plant.dir);
    expect(cfg.uplink.password).toBe(GATEWAY_PASSWORD);

    const sinkFile = join(plant.dir, 'sink.yaml');
    writeFileSync(sinkFile, [`brokerUrl: ${broker.url}`, 'username: sink', `tls: { caFile: ${JSON.stringify(broker.certs?.caFile)} }`, 'outDir: sink-tls', 'clientId: sink-tls'].join('\n'));
    const sinkCfg = loadSinkConfig(sinkFile, {}, { LOUPE_SINK__PASSWORD: SINK_PASSWORD }, plant.dir);
    expect(sinkCfg.outDir).toBe(join(plant.dir, 'sink-tls'));
    const sink = track(new DatasetSink(sinkCfg, { log: captureLog().log }));
    const subscribed = new Promise((r) => sink.once('subscribed', r));
    await sink.start();
    await subscribed;

    const uplink = track(plant.uplink(cfg.uplink));
    uplink.start();
    const parts = await plant.makeParts(3);
    const ids = parts.map((p) => plant.decide(p, 'fail', 'scratch').id);
    await waitFor('3 corrections over TLS', () => sink.stats().total === 3);
    await waitFor('the outbox to empty', () => plant.store.outbox.backlog().count === 0);
    expect(uplink.status()).toMatchObject({ state: 'online', broker: broker.url, lastError: null });
    // Never a secret in a log line.
    expect(JSON.stringify(plant.lines)).not.toContain(GATEWAY_PASSWORD);
    expect(ids).toHaveLength(3);
  });

  it('logs one clear error for refused credentials, keeps the backlog, and delivers it once the password is right', async () => {
    const wrong = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, username: 'gateway', password: 'not it', tls: { caFile: broker.certs?.caFile }, reconnectMinMs: 100, reconnectMaxMs: 150 })));
    wrong.start();
    const parts = await plant.makeParts(3);
    for (const p of parts) plant.decide(p, 'pass');
    await waitFor('several refused attempts', () => plant.lines.filter((l) => l.code === 'LOUPE_ERR_UPLINK_AUTH').length >= 4);

    const errors = plant.lines.filter((l) => l.level >= ERROR && l.code === 'LOUPE_ERR_UPLINK_AUTH');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(/user "gateway"/);
    expect(errors[0]?.msg).toMatch(/LOUPE__UPLINK__PASSWORD/);
    const st = wrong.status();
    expect(st.state).toBe('offline');
    expect(st.lastError?.code).toBe('LOUPE_ERR_UPLINK_AUTH');
    expect(st.backlog).toBe(3);
    expect(wrong.linkStatus()).toMatchObject({ state: 'down' });
    expect(wrong.linkStatus().detail).toMatch(/refused the credentials/);
    await wrong.stop();
    expect(plant.store.outbox.backlog().count).toBe(3);

    const right = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, username: 'gateway', password: GATEWAY_PASSWORD, tls: { caFile: broker.certs?.caFile } })));
    right.start();
    await waitFor('the backlog to drain', () => plant.store.outbox.backlog().count === 0);
  });

  it('refuses a broker whose certificate the configured CA did not sign', async () => {
    const uplink = track(plant.uplink(uplinkConfig({ brokerUrl: broker.url, username: 'gateway', password: GATEWAY_PASSWORD, tls: { caFile: broker.certs?.otherCaFile } })));
    uplink.start();
    await waitFor('a TLS error', () => uplink.status().lastError?.code === 'LOUPE_ERR_UPLINK_TLS');
    expect(uplink.status().lastError?.message).toMatch(/tls\.caFile/);
  });

  it('presents a client certificate to a broker that requires one', async () => {
    const certs = mtlsBroker.certs!;
    const without = track(plant.uplink(uplinkConfig({ brokerUrl: mtlsBroker.url, clientId: 'no-cert', tls: { caFile: certs.caFile } })));
    without.start();
    await waitFor('the broker to refuse a client without a certificate', () => without.status().lastError !== null);
    expect(without.status().state).not.toBe('online');
    await without.stop();

    const withCert = track(plant.uplink(uplinkConfig({ brokerUrl: mtlsBroker.url, tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile } })));
    withCert.start();
    await waitFor('online with a client certificate', () => withCert.status().state === 'online');
  });

  it('fails at start, naming the key, when a TLS file cannot be read', () => {
    try {
      plant.uplink(uplinkConfig({ brokerUrl: broker.url, tls: { caFile: join(plant.dir, 'no-such-ca.pem') } }));
      expect.unreachable('expected LOUPE_ERR_UPLINK_TLS');
    } catch (err) {
      expect(isLoupeError(err, 'LOUPE_ERR_UPLINK_TLS')).toBe(true);
      expect((err as Error).message).toMatch(/^uplink\.tls\.caFile: cannot read/);
    }
  });
});
