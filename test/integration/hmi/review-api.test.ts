import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginCookie, startTestGateway, triggerPart, type TestGateway } from '../../helpers/gateway-harness.js';

/** The HMI's API over real HTTP: who may call it, and what a decision commits. */
describe('review API', () => {
  let gw: TestGateway;
  let op: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    op = await loginCookie(gw.url, 'op1', '1234');
  });

  afterAll(async () => {
    await gw?.cleanup();
  });

  const call = (method: string, path: string, opts: { cookie?: string; body?: unknown; type?: string } = {}) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: {
        ...(opts.cookie ? { cookie: opts.cookie } : {}),
        ...(opts.body !== undefined ? { 'content-type': opts.type ?? 'application/json' } : {}),
      },
      body: opts.body === undefined ? null : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
    });

  it('refuses every review call without a session, and with a made-up one', async () => {
    const part = await triggerPart(gw);
    const calls: [string, string, unknown?][] = [
      ['GET', '/api/review/stations'],
      ['GET', '/api/review/queue'],
      ['POST', '/api/review/decisions', { decisionId: 'anon-decision-1', inspectionId: part.id, verdict: 'pass' }],
      ['POST', '/api/review/claims', { inspectionId: part.id }],
      ['DELETE', `/api/review/claims/${part.id}`],
    ];
    for (const cookie of [undefined, 'loupe_session=forged-token-value']) {
      for (const [method, path, body] of calls) {
        const res = await call(method, path, { ...(cookie ? { cookie } : {}), ...(body ? { body } : {}) });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(((await res.json()) as { code: string }).code).toBe('LOUPE_ERR_AUTH_REQUIRED');
      }
    }
    expect(gw.gateway.store.decisions.forInspection(part.id)).toBeUndefined();
  });

  it('sets the session cookie HttpOnly and SameSite=Strict, and takes decisions only as JSON', async () => {
    const res = await call('POST', '/api/auth/login', { body: { operatorId: 'OP1', pin: '1234' } });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const part = await triggerPart(gw);
    // A cross-site form can only send form or text bodies: the API does not parse them.
    const form = await call('POST', '/api/review/decisions', { cookie: op, body: `decisionId=x&inspectionId=${part.id}&verdict=pass`, type: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(gw.gateway.store.decisions.forInspection(part.id)).toBeUndefined();
  });

  it('records the session operator, answers a repeated decision id with the first result, and refuses a second decision', async () => {
    const part = await triggerPart(gw);
    const body = { decisionId: 'replay-test-0001', inspectionId: part.id, verdict: 'fail', defectClass: 'dent', note: ' burr at hole 3 ', operatorId: 'someone-else' };
    const first = await call('POST', '/api/review/decisions', { cookie: op, body });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ replay: false, operatorId: 'op1', verdict: 'fail', defectClass: 'dent', note: 'burr at hole 3' });
    const again = await call('POST', '/api/review/decisions', { cookie: op, body });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ replay: true, decisionId: 'replay-test-0001' });
    expect(gw.gateway.store.outbox.peek(1000).filter((m) => m.inspectionId === part.id)).toHaveLength(1);

    const admin = await loginCookie(gw.url, 'admin', '2580');
    const second = await call('POST', '/api/review/decisions', { cookie: admin, body: { decisionId: 'replay-test-0002', inspectionId: part.id, verdict: 'pass' } });
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({
      code: 'LOUPE_ERR_REVIEW_ALREADY_DECIDED',
      details: { inspectionId: part.id, decidedBy: 'operator', operatorId: 'op1', operatorName: 'Demo operator', verdict: 'fail', defectClass: 'dent' },
    });
    const reused = await call('POST', '/api/review/decisions', { cookie: op, body: { ...body, inspectionId: (await triggerPart(gw)).id } });
    expect(((await reused.json()) as { code: string }).code).toBe('LOUPE_ERR_REVIEW_INVALID');
  });

  it('lets one screen claim a part, so another screen is told who holds it', async () => {
    const part = await triggerPart(gw);
    const admin = await loginCookie(gw.url, 'admin', '2580');
    expect(await (await call('POST', '/api/review/claims', { cookie: op, body: { inspectionId: part.id } })).json()).toMatchObject({ claimed: true });
    expect(await (await call('POST', '/api/review/claims', { cookie: admin, body: { inspectionId: part.id } })).json()).toMatchObject({
      claimed: false,
      heldBy: { inspectionId: part.id, operatorId: 'op1', name: 'Demo operator' },
    });
    const queue = (await (await call('GET', '/api/review/queue', { cookie: admin })).json()) as { claims: { inspectionId: string }[] };
    expect(queue.claims.map((c) => c.inspectionId)).toContain(part.id);
    await call('DELETE', `/api/review/claims/${part.id}`, { cookie: op });
    expect(await (await call('POST', '/api/review/claims', { cookie: admin, body: { inspectionId: part.id } })).json()).toMatchObject({ claimed: true });
  });

  it('streams the review queue only to a logged-in screen; status goes to everyone', async () => {
    const read = async (cookie?: string) => {
      const ctrl = new AbortController();
      const res = await fetch(`${gw.url}/api/events`, { headers: cookie ? { cookie } : {}, signal: ctrl.signal });
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      const until = Date.now() + 3000;
      while (Date.now() < until && !text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
      // Whatever else the first burst holds.
      await new Promise((r) => setTimeout(r, 100));
      ctrl.abort();
      return text;
    };
    const anonymous = await read();
    expect(anonymous).toContain('event: hello');
    expect(anonymous).toContain('event: status');
    expect(anonymous).not.toContain('review.snapshot');
    const withSession = await read(op);
    expect(withSession).toContain('event: review.snapshot');
  });

  it('tells the page its settings before login, with no secrets in them', async () => {
    const res = await call('GET', '/api/hmi');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ language: 'en', undoWindowMs: 4000, demoPinsActive: true, stations: [{ id: 'station-1' }] });
    expect(JSON.stringify(body)).not.toMatch(/1234|2580|scrypt/);
  });
});

describe('line status without a login', () => {
  it('is public for wall displays by default, and needs a login when hmi.publicStatus is off', async () => {
    const open = await startTestGateway();
    const closed = await startTestGateway({ config: { hmi: { publicStatus: false } } });
    try {
      expect((await fetch(`${open.url}/api/status`)).status).toBe(200);
      const refused = await fetch(`${closed.url}/api/status`);
      expect(refused.status).toBe(401);
      expect((await fetch(`${closed.url}/api/events`)).status).toBe(401);
      const cookie = await loginCookie(closed.url, 'op1', '1234');
      const ok = await fetch(`${closed.url}/api/status`, { headers: { cookie } });
      expect(await ok.json()).toMatchObject({ stations: [{ id: 'station-1', camera: { state: 'ok' }, model: { id: 'demo-part', provider: 'cpu' } }] });
    } finally {
      await open.cleanup();
      await closed.cleanup();
    }
  });
});
