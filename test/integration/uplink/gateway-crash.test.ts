import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetSink } from '../../../gateway/src/uplink/sink/dataset-sink.js';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto.js';
import { captureLog, openPlant, sinkConfig, waitFor } from './fixtures.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'loupe-uplink-crash-'));
let broker: Mosquitto;
let proxy: TcpProxy;
let sink: DatasetSink;
const children = new Set<ChildProcess>();
const stored: string[] = [];
const duplicates: string[] = [];

/** The real gateway (`loupe run`) on the store the test prepared, its uplink pointed at the proxy. */
function startGateway(): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  const config = join(dir, 'loupe.yaml');
  writeFileSync(
    config,
    [
      `gateway: { site: plant-a, line: line-3, id: gw-7, dataDir: ${JSON.stringify(dir)} }`,
      'http: { port: 0 }',
      'log: { pretty: never }',
      'stations:',
      '  - id: s1',
      '    trigger: { type: api }',
      '    model: { providers: [cpu], warmupRuns: 0 }',
      'uplink:',
      '  enabled: true',
      `  brokerUrl: ${proxy.url}`,
      '  reconnectMinMs: 200',
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'gateway/src/main.ts'), 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, exited, output: () => out };
}

function outboxRows(): number {
  const db = new Database(join(dir, 'loupe.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox').get()?.n ?? -1;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  broker = await startMosquitto();
  proxy = await startTcpProxy({ host: broker.host, port: broker.port });
  sink = new DatasetSink(sinkConfig({ brokerUrl: broker.url, outDir: join(dir, 'sink'), clientId: 'sink-crash' }), { log: captureLog('info').log });
  sink.on('stored', (r) => stored.push(r.correctionId));
  sink.on('duplicate', (id) => duplicates.push(id));
  const subscribed = new Promise((r) => sink.once('subscribed', r));
  await sink.start();
  await subscribed;
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await sink?.stop();
  await proxy?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('corrections uplink: a gateway killed mid-publish', () => {
  it('loses no correction when SIGKILLed between publish and PUBACK: it sends it again, the sink stores it once', async () => {
    // Three operator decisions committed by a gateway that has since stopped.
    const plant = await openPlant({ dir });
    const parts = await plant.makeParts(3);
    const ids = parts.map((p, k) => plant.decide(p, k === 1 ? 'pass' : 'fail', 'dent').id);
    plant.close();
    expect(outboxRows()).toBe(3);

    // The broker gets the PUBLISH (and forwards it to the sink), but its PUBACK never reaches the
    // gateway. Until a first PUBACK on a connection the gateway sends one message at a time, so
    // the later two wait their turn.
    proxy.holdRepliesAfterConnack(true);
    const first = startGateway();
    await waitFor('the sink to receive the first', () => stored.length === 1, 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${first.output()}`);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(stored).toEqual([ids[0]]);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    expect(outboxRows()).toBe(3);

    // Restarted, it resumes from its outbox: the broker sees the same messages again; the sink dedupes.
    proxy.holdRepliesAfterConnack(false);
    const second = startGateway();
    await waitFor('the outbox to drain', () => outboxRows() === 0, 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${second.output()}`);
    });
    await waitFor('all three at the sink', () => stored.length === 3);
    expect(stored).toEqual(ids);
    expect(duplicates).toEqual([ids[0]]);
    expect(sink.stats().total).toBe(3);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/"msg":"outbox drained: 3 messages/);
  });
});
