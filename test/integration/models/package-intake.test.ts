import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoupeError, type LoupeError } from '../../../gateway/src/errors.js';
import type { Inspection } from '../../../gateway/src/inspect/inspection.js';
import { loginCookie, startTestGateway, triggerPart, type TestGateway } from '../../helpers/gateway-harness.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';
import { demoVersion, incoming, removeVariants, sha256, station, variant } from './model-fixtures.js';

async function refusal(p: Promise<unknown>): Promise<LoupeError> {
  try {
    await p;
  } catch (err) {
    if (isLoupeError(err)) return err;
    throw err;
  }
  throw new Error('expected the package to be refused');
}

describe('model packages: verified before use, refused with a reason, the line keeps running', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ config: { stations: [station()] } });
  });

  afterAll(async () => {
    await gw?.cleanup();
    removeVariants();
    await expectNoOpenSockets();
  });

  it('registers a verified package once, with its sha256, and takes the same package again without change', async () => {
    const dir = demoVersion('1.1.0');
    const first = await gw.gateway.models.register(incoming(dir));
    expect(first.created).toBe(true);
    expect(first.package).toMatchObject({ modelId: 'demo-part', version: '1.1.0', sha256: sha256(readFileSync(join(dir, 'model.onnx'))), source: 'api' });
    expect(first.package.checks).toMatchObject({ provider: 'cpu', testFrame: '128x128 grey' });
    const stored = join(gw.dataDir, 'models', 'demo-part', '1.1.0');
    expect(readFileSync(join(stored, 'model.onnx')).equals(readFileSync(join(dir, 'model.onnx')))).toBe(true);
    expect(existsSync(join(stored, 'MODEL_CARD.md'))).toBe(true);

    const again = await gw.gateway.models.register(incoming(dir));
    expect(again.created).toBe(false);
    expect(gw.gateway.models.packages().map((p) => `${p.modelId}@${p.version}`)).toEqual(['demo-part@1.1.0']);
  });

  it('refuses another package under a registered version', async () => {
    const dir = variant((m) => {
      m.version = '1.1.0';
      m.thresholds = { passBelow: 0.1, failAtOrAbove: 0.9 };
    });
    const err = await refusal(gw.gateway.models.register(incoming(dir)));
    expect(err.code).toBe('LOUPE_ERR_MODEL_VERSION_CONFLICT');
  });

  const bad: [string, string, () => ReturnType<typeof incoming>][] = [
    ['model.onnx altered on the way (sha256 differs)', 'LOUPE_ERR_MODEL_HASH', () => {
      const p = incoming(demoVersion('2.0.0'));
      const onnx = Buffer.from(p.onnx);
      onnx[onnx.length >> 1] = (onnx[onnx.length >> 1] ?? 0) ^ 0xff;
      return { ...p, onnx };
    }],
    ['a truncated model.onnx (its own sha256)', 'LOUPE_ERR_MODEL_LOAD', () => {
      const p = incoming(variant((m) => (m.version = '2.0.1'), (b) => b.subarray(0, b.length >> 1)));
      return p;
    }],
    ['model.json with another input size than the graph', 'LOUPE_ERR_MODEL_MISMATCH', () => incoming(variant((m) => {
      m.version = '2.0.2';
      (m.input as Record<string, unknown>).width = 96;
    }))],
    ['model.json with fewer labels than the graph has scores', 'LOUPE_ERR_MODEL_MISMATCH', () => incoming(variant((m) => {
      m.version = '2.0.3';
      m.labels = ['good', 'scratch', 'dent'];
    }))],
    ['model.json that is not a manifest', 'LOUPE_ERR_MODEL_MANIFEST', () => incoming(variant((m) => {
      m.version = '2.0.4';
      delete m.input;
    }))],
    ['raw logits declared as probabilities (test inference out of 0..1)', 'LOUPE_ERR_MODEL_TEST_INFERENCE', () => incoming(variant((m) => {
      m.version = '2.0.5';
      (m.outputs as Record<string, unknown>).activation = 'none';
    }))],
    ['a version that is no folder name', 'LOUPE_ERR_MODEL_MANIFEST', () => incoming(variant((m) => (m.version = '../../etc')))],
  ];

  it.each(bad)('refuses %s with reason %s, records it, and keeps the active model serving', async (_what, reason, make) => {
    const parts: Promise<Inspection>[] = [];
    for (let i = 0; i < 3; i++) parts.push(triggerPart(gw));
    const err = await refusal(gw.gateway.models.register(make()));
    expect(err.code).toBe('LOUPE_ERR_MODEL_REFUSED');
    expect(err.details?.reason).toBe(reason);
    for (let i = 0; i < 3; i++) parts.push(triggerPart(gw));
    const done = await Promise.all(parts);
    expect(done.every((i) => i.state !== 'error' && i.modelVersion === '1.0.0')).toBe(true);
    const last = gw.gateway.models.history('station-1', { limit: 1 })[0];
    expect(last).toMatchObject({ action: 'refuse', actor: 'test', detail: expect.objectContaining({ code: reason }) });
    expect(gw.gateway.models.packages().map((p) => p.version)).toEqual(['1.1.0']);
    expect(gw.gateway.stations.get('station-1')?.status().model.version).toBe('1.0.0');
  });

  it('refuses a package over models.maxPackageMb', async () => {
    const small = await startTestGateway({ config: { stations: [station()], models: { maxPackageMb: 1 } } });
    try {
      const err = await refusal(small.gateway.models.register(incoming(demoVersion('3.0.0'))));
      expect(err.details?.reason).toBe('LOUPE_ERR_MODEL_TOO_LARGE');
    } finally {
      await small.cleanup();
    }
  });

  it('takes uploads from engineers through the API, not from operators, and says why a package is refused', async () => {
    const admin = await loginCookie(gw.url, 'admin', '2580');
    const op = await loginCookie(gw.url, 'op1', '1234');
    const body = (dir: string, over: Record<string, unknown> = {}) => {
      const p = incoming(dir);
      return JSON.stringify({ manifest: p.manifest, onnx: p.onnx.toString('base64'), sha256: p.sha256, card: p.card, reason: 'new lighting', ...over });
    };
    const post = (cookie: string, payload: string) =>
      fetch(`${gw.url}/api/models/station-1/packages`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: payload });

    const dir = demoVersion('1.2.0');
    expect((await post(op, body(dir))).status).toBe(403);
    const created = await post(admin, body(dir));
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ modelId: 'demo-part', version: '1.2.0', addedBy: 'admin', activeOn: [], shadowOn: [] });
    expect((await post(admin, body(dir))).status).toBe(200);

    const wrong = await post(admin, body(demoVersion('1.3.0'), { sha256: '0'.repeat(64) }));
    expect(wrong.status).toBe(422);
    expect(await wrong.json()).toMatchObject({ code: 'LOUPE_ERR_MODEL_REFUSED', details: { reason: 'LOUPE_ERR_MODEL_HASH' } });

    const list = await fetch(`${gw.url}/api/models`, { headers: { cookie: admin } });
    expect(((await list.json()) as { version: string }[]).map((p) => p.version).sort()).toEqual(['1.1.0', '1.2.0']);
    const history = (await (await fetch(`${gw.url}/api/models/station-1/history?limit=3`, { headers: { cookie: admin } })).json()) as { action: string; actor: string; reason: string }[];
    expect(history[0]).toMatchObject({ action: 'refuse', actor: 'admin', reason: 'new lighting' });
    expect(history[1]).toMatchObject({ action: 'register', actor: 'admin' });
  });
});
