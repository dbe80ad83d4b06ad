import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../gateway/src/config/load.js';
import { loadSinkConfig } from '../../../gateway/src/uplink/sink/sink-config.js';
import { splitOf } from '../../../gateway/src/uplink/sink/dataset-sink.js';
import { Backoff } from '../../../gateway/src/uplink/backoff.js';
import { Throttle } from '../../../gateway/src/uplink/throttle.js';
import { unitHash } from '../../../gateway/src/uplink/uplink.js';
import { jsonSchemaText, wireSchemas } from '../../../gateway/src/uplink/wire-payloads.js';

const dir = mkdtempSync(join(tmpdir(), 'loupe-uplink-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function problems(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('uplink config', () => {
  it('has a default for every key: off, MQTT 5, QoS 1, throttled, budgeted', () => {
    const u = loadConfig(file('empty.yaml', ''), {}, dir).uplink;
    expect(u).toMatchObject({
      enabled: false,
      brokerUrl: 'mqtt://127.0.0.1:1883',
      protocolVersion: 5,
      clientId: null,
      password: null,
      qos: 1,
      keepaliveS: 30,
      sessionExpiryS: 3600,
      maxMessagesPerS: 50,
      imageMode: 'inline',
      inspectionSampleRate: 0,
      outboxMaxRows: 100_000,
      outboxMaxAgeH: 168,
      holdWithoutSubscribers: true,
    });
    expect(u.tls).toEqual({ caFile: null, certFile: null, keyFile: null, serverName: null, rejectUnauthorized: true });
  });

  it('takes the password from LOUPE__UPLINK__PASSWORD', () => {
    const u = loadConfig(file('pw.yaml', 'uplink: { enabled: true, username: gw }'), { LOUPE__UPLINK__PASSWORD: 'from-env' }, dir).uplink;
    expect(u.password).toBe('from-env');
  });

  it('names the key and the fix for each mistake', () => {
    const found = problems(() =>
      loadConfig(
        file(
          'bad.yaml',
          [
            'uplink:',
            '  brokerUrl: localhost:1883',
            '  protocolVersion: 4',
            '  qos: 0',
            '  reconnectMinMs: 9000',
            '  reconnectMaxMs: 1000',
            '  tls: { certFile: client.pem }',
            '  maxMessagesPerS: 0',
            '  outboxMaxRows: 5',
            '  inspectionSampleRate: 2',
            '  colour: blue',
          ].join('\n'),
        ),
        {},
        dir,
      ),
    );
    const at = (p: string) => found.filter((f) => f.path === p).map((f) => f.message).join(' | ');
    expect(at('uplink.brokerUrl')).toMatch(/mqtt:\/\/host:port/);
    expect(at('uplink.protocolVersion')).not.toBe('');
    expect(at('uplink.qos')).not.toBe('');
    expect(at('uplink.maxMessagesPerS')).toMatch(/>= 1/);
    expect(at('uplink.outboxMaxRows')).toMatch(/>= 10/);
    expect(at('uplink.inspectionSampleRate')).toMatch(/<= 1/);
    expect(at('uplink.colour')).toMatch(/unknown key/);
  });

  it('checks keys that depend on each other', () => {
    const found = problems(() =>
      loadConfig(file('cross.yaml', ['uplink:', '  brokerUrl: mqtt://broker:1883', '  reconnectMinMs: 9000', '  reconnectMaxMs: 1000', '  tls: { caFile: ca.pem, certFile: client.pem }'].join('\n')), {}, dir),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        { path: 'uplink.reconnectMinMs', message: expect.stringMatching(/reconnectMinMs <= reconnectMaxMs/) },
        { path: 'uplink.tls.keyFile', message: expect.stringMatching(/both tls.certFile and tls.keyFile/) },
        { path: 'uplink.brokerUrl', message: expect.stringMatching(/expected mqtts:\/\//) },
      ]),
    );
  });

  it('loads the sink config from file, flags and LOUPE_SINK__ variables, resolving paths', () => {
    const cfg = loadSinkConfig(file('sink.yaml', 'brokerUrl: mqtts://broker:8883\ntls: { caFile: ca.pem }\nusername: sink'), { outDir: 'out' }, { LOUPE_SINK__PASSWORD: 'pw', LOUPE__UPLINK__PASSWORD: 'not mine' }, dir);
    expect(cfg).toMatchObject({ password: 'pw', outDir: join(dir, 'out'), group: 'loupe-dataset', sessionExpiryS: 86_400 });
    expect(cfg.tls.caFile).toBe(join(dir, 'ca.pem'));
    const found = problems(() => loadSinkConfig(null, {}, { LOUPE_SINK__NOPE: '1' }, dir));
    expect(found[0]?.path).toBe('$LOUPE_SINK__NOPE');
  });
});

describe('uplink payload schemas', () => {
  it('keeps the JSON Schema files in the repo equal to the payload definitions', () => {
    const schemas = join(dirname(fileURLToPath(import.meta.url)), '../../../gateway/src/uplink/schemas');
    for (const [name, schema] of Object.entries(wireSchemas)) {
      expect(readFileSync(join(schemas, name), 'utf8'), `${name}: run npx tsx gateway/src/uplink/write-schemas.ts`).toBe(jsonSchemaText(schema));
    }
  });
});

describe('uplink pacing', () => {
  it('backs off exponentially up to the ceiling, with jitter taken off the wait', () => {
    const b = new Backoff({ minMs: 1000, maxMs: 8000, jitterRatio: 0.5 }, () => 0);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 8000, 8000]);
    b.reset();
    expect(b.next()).toBe(1000);
    const jittered = new Backoff({ minMs: 1000, maxMs: 8000, jitterRatio: 0.5 }, () => 1);
    expect(jittered.next()).toBe(500);
  });

  it('lets through the configured rate on average', () => {
    let t = 0;
    const th = new Throttle(100, () => t);
    let sent = 0;
    for (; t < 10_000; t += 1) while (th.take() === 0) sent++;
    expect(sent).toBeGreaterThanOrEqual(999);
    expect(sent).toBeLessThanOrEqual(1011);
  });

  it('samples and splits by stable hashes of ids', () => {
    expect(unitHash('01J0000000000000000000000A')).toBe(unitHash('01J0000000000000000000000A'));
    const ids = Array.from({ length: 2000 }, (_, k) => `id-${k}`);
    const sampled = ids.filter((id) => unitHash(id) < 0.1).length;
    expect(sampled).toBeGreaterThan(150);
    expect(sampled).toBeLessThan(250);
    const splits = ids.map((id) => splitOf(id, 10, 10));
    expect(splits.filter((s) => s === 'test').length).toBeGreaterThan(150);
    expect(splits.filter((s) => s === 'val').length).toBeGreaterThan(150);
    expect(splitOf('abc', 10, 10)).toBe(splitOf('abc', 10, 10));
  });
});
