import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiTokens } from '../../../gateway/src/auth/api-tokens.js';
import { ApiTokenRepo } from '../../../gateway/src/store/api-tokens.js';
import { openStore } from '../../../gateway/src/store/store.js';
import { silentLog, tempDir, testConfig } from '../../helpers/test-config.js';
import { call, failure, login, startFilledGateway, type FilledGateway } from './engineer-harness.js';

let g: FilledGateway;
beforeAll(async () => {
  g = await startFilledGateway('loupe-engineer-access-');
}, 120_000);
afterAll(async () => g?.close());

/** Every route of the engineer API, with ids that exist. */
function routes(): [string, string, unknown?][] {
  const part = g.parts.find((p) => p.hasImage)?.id ?? '';
  return [
    ['GET', '/api/inspections'],
    ['GET', '/api/inspections/facets'],
    ['GET', `/api/inspections/${part}`],
    ['GET', `/api/inspections/${part}/image`],
    ['GET', `/api/inspections/${part}/overlay`],
    ['GET', `/api/inspections/${part}/thumbnail`],
    ['GET', '/api/exports/inspections.csv'],
    ['GET', '/api/exports/inspections.ndjson'],
    ['GET', '/api/exports/inspections.zip'],
    ['GET', '/api/stats/summary'],
    ['GET', '/api/stats/yield'],
    ['GET', '/api/stats/pareto'],
    ['GET', '/api/stats/confusion'],
    ['GET', '/api/stats/escapes'],
    ['GET', '/api/stats/p-chart'],
    ['GET', '/api/tokens'],
    ['POST', '/api/tokens', { name: 'x' }],
    ['DELETE', '/api/tokens/01ZZZZZZZZZZZZZZZZZZZZZZZZ'],
    ['GET', '/api/audit'],
    ['GET', '/api/stations'],
    ['GET', '/api/stations/line-a'],
    ['POST', '/api/stations/line-a/trigger', {}],
    ['GET', '/api/openapi.json'],
    ['GET', '/api/docs'],
  ];
}

describe('engineer API: access', () => {
  it('answers nothing but health and metrics without credentials', async () => {
    for (const [method, path, body] of routes()) {
      const res = await fetch(g.url + path, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
      expect([res.status, ((await res.json()) as { code: string }).code], `${method} ${path}`).toEqual([401, 'LOUPE_ERR_AUTH_REQUIRED']);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="loupe"');
    }
    for (const path of ['/healthz', '/metrics']) expect((await fetch(g.url + path)).status, path).toBe(200);
    // Every route the API documents under /api/inspections, /api/exports, /api/stats, /api/tokens and /api/stations is in the list above.
    const doc = await call<{ paths: Record<string, Record<string, unknown>> }>(g.url, 'GET', '/api/openapi.json', { token: g.adminToken });
    const mine = Object.keys(doc.paths).filter((p) => /^\/api\/(inspections|exports|stats|tokens|audit|stations)/.test(p));
    const listed = new Set(routes().map(([, p]) => p.replace(/\/01[0-9A-Z]{24}/, '/{id}').replace('/line-a', '/{id}')));
    for (const p of mine) expect(listed, p).toContain(p);
  });

  it('shows an API token once, stores only its hash, records its use, and revokes it at once', async () => {
    const created = await call<{ id: string; token: string; hint: string; scope: string }>(g.url, 'POST', '/api/tokens', { cookie: g.adminCookie }, { name: 'MES nightly', scope: 'read' });
    expect(created.token).toMatch(/^loupe_[A-Za-z0-9_-]{43}$/);
    expect(created.token.startsWith(created.hint)).toBe(true);
    const listed = await call<Record<string, unknown>[]>(g.url, 'GET', '/api/tokens', { cookie: g.adminCookie });
    const entry = listed.find((t) => t.id === created.id);
    expect(entry).toMatchObject({ name: 'MES nightly', scope: 'read', active: true, lastUsedAt: null, createdBy: 'admin' });
    expect(JSON.stringify(listed)).not.toContain(created.token);

    // What the database holds: the sha256, never the token.
    const db = new Database(join(g.gateway.store.db.name), { readonly: true });
    try {
      const row = db.prepare('SELECT * FROM api_token WHERE id = ?').get(created.id) as Record<string, unknown>;
      expect(row.token_hash).toBe(createHash('sha256').update(created.token).digest('hex'));
      expect(Object.values(row).some((v) => typeof v === 'string' && v.includes(created.token.slice(12)))).toBe(false);
    } finally {
      db.close();
    }

    expect((await call<{ items: unknown[] }>(g.url, 'GET', '/api/inspections?limit=1', { token: created.token })).items).toHaveLength(1);
    const used = (await call<{ id: string; lastUsedAt: string | null }[]>(g.url, 'GET', '/api/tokens', { cookie: g.adminCookie })).find((t) => t.id === created.id);
    expect(Date.now() - Date.parse(used?.lastUsedAt ?? '0')).toBeLessThan(60_000);

    const revoked = await call<{ active: boolean; revokedBy: string }>(g.url, 'DELETE', `/api/tokens/${created.id}`, { cookie: g.adminCookie });
    expect(revoked).toMatchObject({ active: false, revokedBy: 'admin' });
    expect(await failure(g.url, 'GET', '/api/inspections?limit=1', { token: created.token })).toEqual({ status: 401, code: 'LOUPE_ERR_AUTH_TOKEN_INVALID' });
    expect(await failure(g.url, 'GET', '/api/inspections', { token: `${created.token}x` })).toEqual({ status: 401, code: 'LOUPE_ERR_AUTH_TOKEN_INVALID' });
    const basic = await fetch(`${g.url}/api/inspections`, { headers: { authorization: 'Basic YWRtaW46MjU4MA==' } });
    expect(basic.status).toBe(401);
  });

  it('lets read tokens read and only admin tokens write', async () => {
    const read = await call<{ token: string }>(g.url, 'POST', '/api/tokens', { token: g.adminToken }, { name: 'dashboard script', scope: 'read' });
    const r = { token: read.token };
    for (const path of ['/api/stats/summary', '/api/stations', '/api/inspections/facets']) await call(g.url, 'GET', path, r);
    expect(await failure(g.url, 'POST', '/api/stations/line-a/trigger', r, {})).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_TOKEN_SCOPE' });
    expect(await failure(g.url, 'POST', '/api/tokens', r, { name: 'more' })).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_TOKEN_SCOPE' });
    expect(await failure(g.url, 'GET', '/api/audit', r)).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_TOKEN_SCOPE' });
    const part = await call<{ id: string }>(g.url, 'POST', '/api/stations/line-a/trigger', { token: g.adminToken }, { partId: 'T-admin-1' });
    expect((await call<{ partId: string }>(g.url, 'GET', `/api/inspections/${part.id}`, r)).partId).toBe('T-admin-1');
  });

  it('lets people in by role: operators see images, engineers read and make read tokens, admins do everything', async () => {
    await call(g.url, 'POST', '/api/users', { cookie: g.adminCookie }, { id: 'eng1', name: 'Quality engineer', role: 'engineer', pin: '4711' });
    await call(g.url, 'POST', '/api/users', { cookie: g.adminCookie }, { id: 'op9', name: 'Line operator', role: 'operator', pin: '9999' });
    const eng = { cookie: await login(g.url, 'eng1', '4711') };
    const op = { cookie: await login(g.url, 'op9', '9999') };
    const part = g.parts.find((p) => p.hasImage)?.id ?? '';

    for (const path of ['/api/inspections?limit=5', '/api/stats/escapes', `/api/inspections/${part}`, '/api/openapi.json']) await call(g.url, 'GET', path, eng);
    const csv = await fetch(`${g.url}/api/exports/inspections.csv?limit=1&verdict=fail`, { headers: eng });
    expect(csv.status).toBe(200);
    await csv.arrayBuffer();
    const own = await call<{ id: string; token: string }>(g.url, 'POST', '/api/tokens', eng, { name: 'my notebook', scope: 'read' });
    expect(await failure(g.url, 'POST', '/api/tokens', eng, { name: 'too much', scope: 'admin' })).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_FORBIDDEN' });
    const adminTokens = await call<{ id: string; createdBy: string }[]>(g.url, 'GET', '/api/tokens', { cookie: g.adminCookie });
    const others = adminTokens.find((t) => t.createdBy === 'admin');
    expect((await call<{ id: string }[]>(g.url, 'GET', '/api/tokens', eng)).map((t) => t.id)).toEqual([own.id]);
    expect(await failure(g.url, 'DELETE', `/api/tokens/${others?.id}`, eng)).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_FORBIDDEN' });
    await call(g.url, 'DELETE', `/api/tokens/${own.id}`, eng);
    expect(await failure(g.url, 'GET', '/api/audit', eng)).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_FORBIDDEN' });
    await call(g.url, 'POST', '/api/stations/line-b/trigger', eng, { partId: 'T-eng-1' });

    expect(await failure(g.url, 'GET', '/api/inspections', op)).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_FORBIDDEN' });
    expect(await failure(g.url, 'GET', '/api/stats/summary', op)).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_FORBIDDEN' });
    expect(await failure(g.url, 'POST', '/api/stations/line-a/trigger', op, {})).toEqual({ status: 403, code: 'LOUPE_ERR_AUTH_FORBIDDEN' });
    for (const path of [`/api/inspections/${part}/image`, `/api/inspections/${part}/overlay`, '/api/stations']) {
      const res = await fetch(g.url + path, { headers: op });
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
    }
  });

  it('records every write through the API, refused ones included, with who made it', async () => {
    const read = await call<{ id: string; token: string }>(g.url, 'POST', '/api/tokens', { cookie: g.adminCookie }, { name: 'audit probe', scope: 'read' });
    await failure(g.url, 'POST', '/api/stations/line-a/trigger', { token: read.token }, {});
    const trail = await call<{ actor: string; actorKind: string; method: string; route: string; status: number }[]>(g.url, 'GET', '/api/audit?limit=1000', { token: g.adminToken });
    expect(trail[0]).toMatchObject({ actor: `token:${read.id}`, actorKind: 'token', method: 'POST', route: '/api/stations/:id/trigger', status: 403 });
    expect(trail).toContainEqual(expect.objectContaining({ actor: 'admin', actorKind: 'session', method: 'POST', route: '/api/tokens', status: 201 }));
    expect(trail).toContainEqual(expect.objectContaining({ actor: 'eng1', method: 'DELETE', route: '/api/tokens/:id', status: 200 }));
    expect(trail).toContainEqual(expect.objectContaining({ actor: 'eng1', method: 'POST', route: '/api/tokens', status: 403 }));
    expect(trail).toContainEqual(expect.objectContaining({ actor: 'eng1', method: 'POST', route: '/api/stations/:id/trigger', status: 200 }));
    expect(trail.some((e) => e.method === 'GET')).toBe(false);
  });

  it('refuses a token once it expires', async () => {
    const tmp = tempDir('loupe-token-expiry-');
    const store = openStore(testConfig(tmp.dir).store, silentLog);
    try {
      let now = Date.parse('2026-10-25T12:00:00Z');
      const tokens = new ApiTokens({ repo: new ApiTokenRepo(store.db), log: silentLog, now: () => now });
      const { token, view } = tokens.create({ name: 'one day', scope: 'read', expiresInDays: 1, createdBy: 'admin' });
      expect(view.expiresAt).toBe('2026-10-26T12:00:00.000Z');
      expect(tokens.verify(token).id).toBe(view.id);
      now += 86_400_000;
      expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ code: 'LOUPE_ERR_AUTH_TOKEN_INVALID' }));
      expect(tokens.get(view.id).active).toBe(false);
    } finally {
      store.close();
      tmp.cleanup();
    }
  });
});
