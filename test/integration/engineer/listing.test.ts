import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WINDOW, type FilledPart } from '../../helpers/filled-store.js';
import { call, failure, LiveLine, startFilledGateway, type FilledGateway } from './engineer-harness.js';

let g: FilledGateway;
beforeAll(async () => {
  g = await startFilledGateway('loupe-engineer-list-');
}, 120_000);
afterAll(async () => g?.close());

interface Item {
  id: string;
  partId: string;
  verdict: string | null;
  state: string;
  review: { operatorId: string | null; decidedBy: string; note: string | null } | null;
  overridden: boolean;
}
interface Page {
  items: Item[];
  nextCursor: string | null;
  total: number | null;
}

/** Every id a cursor walk returns for `query`, page by page. */
async function walk(query: string, limit: number, creds = { token: g.adminToken }, beforeNextPage?: () => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page: Page = await call<Page>(g.url, 'GET', `/api/inspections?limit=${limit}&${query}${cursor ? `&cursor=${cursor}` : ''}`, creds);
    ids.push(...page.items.map((i) => i.id));
    if (page.nextCursor === null) return ids;
    cursor = page.nextCursor;
    await beforeNextPage?.();
  }
  throw new Error('walk did not end');
}

/** Live parts triggered by earlier tests in this file: they are in the log too. */
const earlierLive: string[] = [];

const byIdDesc = (a: { id: string }, b: { id: string }) => (a.id < b.id ? 1 : -1);
const overridden = (p: FilledPart) => p.final.decidedBy === 'operator' && (p.modelVerdict === 'pass' || p.modelVerdict === 'fail') && p.final.verdict !== p.modelVerdict;

describe('engineer API: inspection list', () => {
  it('returns exactly the parts each filter selects, page by page, while parts keep arriving', async () => {
    const inWindow = `to=${encodeURIComponent(WINDOW.to.toISOString())}`;
    // Local dates in the plant's zone: 2026-10-25 is a 25-hour day (summer time ends).
    const day = (p: FilledPart) => p.triggeredAt >= Date.parse('2026-10-24T22:00:00Z') && p.triggeredAt < Date.parse('2026-10-25T23:00:00Z');
    const cases: [string, (p: FilledPart) => boolean][] = [
      ['', () => true],
      ['station=line-b&verdict=fail', (p) => p.station === 'line-b' && p.final.verdict === 'fail'],
      ['from=2026-10-25&to=2026-10-26', day],
      ['from=2026-10-25T12:00:00%2B01:00&to=2026-10-25T13:30:00Z&station=line-a,line-b', (p) => p.triggeredAt >= Date.parse('2026-10-25T11:00:00Z') && p.triggeredAt < Date.parse('2026-10-25T13:30:00Z')],
      ['decidedBy=operator,timeout', (p) => p.final.decidedBy === 'operator' || p.final.decidedBy === 'timeout'],
      ['defectClass=scratch,dent', (p) => p.final.defectClass === 'scratch' || p.final.defectClass === 'dent'],
      ['modelVersion=1.1.0&verdict=pass', (p) => p.modelVersion === '1.1.0' && p.final.verdict === 'pass'],
      ['scoreMin=0.35&scoreMax=0.6', (p) => p.defectScore !== null && p.defectScore >= 0.35 && p.defectScore <= 0.6],
      ['partIdPrefix=A-001', (p) => p.partId.startsWith('A-001')],
      [`partIdPrefix=${encodeURIComponent('Ø-000')}`, (p) => p.partId.startsWith('Ø-000')],
      ['reviewed=true', (p) => p.final.decidedBy === 'operator'],
      ['reviewed=false&modelVerdict=fail', (p) => p.final.decidedBy !== 'operator' && p.modelVerdict === 'fail'],
      ['overridden=true', overridden],
      ['overridden=false&audit=true', (p) => !overridden(p) && p.audit],
      ['audit=true&modelVerdict=pass', (p) => p.audit && p.modelVerdict === 'pass'],
      ['state=timed-out,error', (p) => p.final.state === 'timed-out' || p.final.state === 'error'],
    ];
    const live = new LiveLine(g.url, g.adminToken, ['line-a', 'line-b']);
    try {
      for (const [query, keep] of cases) {
        const expected = g.parts.filter(keep).sort(byIdDesc).map((p) => p.id);
        expect(expected.length, query).toBeGreaterThan(0);
        const q = query.includes('to=') ? query : `${inWindow}&${query}`;
        expect(await walk(q, 37), query).toEqual(expected);
        expect(await walk(`${q}&order=asc`, 101), `${query} asc`).toEqual([...expected].reverse());
      }
      expect(live.created.length).toBeGreaterThan(5);
    } finally {
      await live.stop();
      earlierLive.push(...live.created.map((c) => c.id));
    }
  });

  it('keeps a walk to the log as it was when the walk began, while parts keep arriving', async () => {
    const live = new LiveLine(g.url, g.adminToken, ['line-a', 'line-b']);
    try {
      for (const order of ['desc', 'asc'] as const) {
        // Mark the start exactly: no trigger in flight while the first page is read.
        await live.pause();
        const before = new Set([...earlierLive, ...live.created.map((c) => c.id)]);
        let first = true;
        let duringWalk = 0;
        const ids = await walk(`order=${order}`, 250, { token: g.adminToken }, async () => {
          if (first) live.resume();
          first = false;
          // Let a few parts arrive between pages.
          const n = live.created.length;
          const until = Date.now() + 2000;
          while (live.created.length < n + 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
          duringWalk = live.created.length - (before.size - earlierLive.length);
        });
        const expected = [...g.parts.map((p) => p.id), ...before].sort().reverse();
        expect(duringWalk, 'parts arrived during the walk').toBeGreaterThan(3);
        expect(new Set(ids).size, 'no part twice').toBe(ids.length);
        expect(ids).toEqual(order === 'desc' ? expected : [...expected].reverse());
      }
      // A new walk sees everything that has arrived since.
      await live.pause();
      const all = await walk('', 500);
      expect(all.length).toBe(g.parts.length + earlierLive.length + live.created.length);
    } finally {
      await live.stop();
      earlierLive.push(...live.created.map((c) => c.id));
    }
  });

  it('counts matches on request and refuses bad filters and cursors with stable codes', async () => {
    const page = await call<Page>(g.url, 'GET', `/api/inspections?verdict=fail&to=${WINDOW.to.toISOString()}&total=true&limit=1`, { token: g.adminToken });
    expect(page.total).toBe(g.parts.filter((p) => p.final.verdict === 'fail').length);
    expect(page.items).toHaveLength(1);
    const t = { token: g.adminToken };
    expect(await failure(g.url, 'GET', '/api/inspections?from=2026-10-26&to=2026-10-25', t)).toEqual({ status: 400, code: 'LOUPE_ERR_API_FILTER_INVALID' });
    expect(await failure(g.url, 'GET', '/api/inspections?from=yesterday', t)).toEqual({ status: 400, code: 'LOUPE_ERR_API_FILTER_INVALID' });
    expect(await failure(g.url, 'GET', '/api/inspections?from=2026-02-30', t)).toEqual({ status: 400, code: 'LOUPE_ERR_API_FILTER_INVALID' });
    expect(await failure(g.url, 'GET', '/api/inspections?scoreMin=0.8&scoreMax=0.2', t)).toEqual({ status: 400, code: 'LOUPE_ERR_API_FILTER_INVALID' });
    expect(await failure(g.url, 'GET', '/api/inspections?cursor=bm90LWEtY3Vyc29y', t)).toEqual({ status: 400, code: 'LOUPE_ERR_API_CURSOR_INVALID' });
    expect(await failure(g.url, 'GET', '/api/inspections?verdict=maybe', t)).toEqual({ status: 400, code: 'LOUPE_ERR_API_BAD_REQUEST' });
    expect(await failure(g.url, 'GET', '/api/inspections?limit=501', t)).toEqual({ status: 400, code: 'LOUPE_ERR_API_BAD_REQUEST' });
  });

  it('shows one part with its findings, review history, and its image with the findings drawn on it', async () => {
    // An audited confident pass that a person reversed: the richest history there is.
    const part = g.parts.find((p) => overridden(p) && p.modelVerdict === 'pass' && p.final.note === null) ?? g.parts.find(overridden);
    if (!part) throw new Error('the filled store has no overridden part');
    const d = await call<{
      id: string;
      findings: { label: string; box?: unknown }[];
      review: { operatorId: string; verdict: string; defectClass: string | null; decidedAt: string };
      history: { event: string; actor: string; verdict: string | null; at: string }[];
      overlayUrl: string;
      thumbnailUrl: string;
      imageUrl: string;
      truth: { label: string };
    }>(g.url, 'GET', `/api/inspections/${part.id}`, { token: g.adminToken });
    expect(d.truth.label).toBe(part.truth);
    expect(d.review).toMatchObject({ operatorId: part.operator?.id, verdict: part.final.verdict, defectClass: part.final.defectClass, decidedAt: new Date(part.final.decidedAt ?? 0).toISOString() });
    expect(d.history.map((h) => h.event)).toEqual(['inspected', 'sampled-for-audit', 'sent-to-review', 'decided']);
    expect(d.history[0]).toMatchObject({ verdict: part.modelVerdict, actor: `demo-part@${part.modelVersion}` });
    expect(d.history[3]).toMatchObject({ actor: part.operator?.id, verdict: part.final.verdict });

    const timedOut = g.parts.find((p) => p.final.state === 'timed-out');
    const t = await call<{ history: { event: string; actor: string }[] }>(g.url, 'GET', `/api/inspections/${timedOut?.id}`, { token: g.adminToken });
    expect(t.history.at(-1)).toMatchObject({ event: 'timed-out', actor: 'timeout' });

    const image = async (path: string) => {
      const res = await fetch(g.url + path, { headers: { authorization: `Bearer ${g.adminToken}` } });
      expect(res.status, path).toBe(200);
      return { type: res.headers.get('content-type'), data: Buffer.from(await res.arrayBuffer()) };
    };
    // A part whose finding carries a box: the overlay must change pixels inside it.
    const boxed = g.parts.find((p) => p.modelVerdict === 'fail' && p.truth !== 'good' && p.hasImage);
    const boxedDto = await call<{ findings: { box?: { x: number; y: number; w: number; h: number } }[]; overlayUrl: string; imageUrl: string; thumbnailUrl: string }>(
      g.url,
      'GET',
      `/api/inspections/${boxed?.id}`,
      { token: g.adminToken },
    );
    const original = await image(boxedDto.imageUrl);
    const overlay = await image(boxedDto.overlayUrl);
    const withTruth = await image(`${boxedDto.overlayUrl}?truth=true`);
    const thumb = await image(boxedDto.thumbnailUrl);
    expect(overlay.type).toBe('image/jpeg');
    const [o, v, tr, th] = await Promise.all([original, overlay, withTruth, thumb].map((x) => sharp(x.data).raw().toBuffer({ resolveWithObject: true })));
    expect([v?.info.width, v?.info.height]).toEqual([o?.info.width, o?.info.height]);
    expect(th?.info.width).toBe(160);
    const box = boxedDto.findings[0]?.box;
    expect(box, 'the failed part has a box').toBeDefined();
    if (!o || !v || !tr || !box) return;
    // Mean absolute difference along the box's top edge: the drawn outline is there.
    const w = o.info.width;
    const ch = o.info.channels;
    const y = Math.min(o.info.height - 1, Math.max(0, Math.round(box.y * o.info.height)));
    let diff = 0;
    let n = 0;
    for (let x = Math.round(box.x * w); x < Math.round((box.x + box.w) * w); x++, n++) diff += Math.abs((o.data[(y * w + x) * ch] ?? 0) - (v.data[(y * w + x) * ch] ?? 0));
    expect(diff / Math.max(1, n)).toBeGreaterThan(20);
    expect(Buffer.compare(v.data, tr.data)).not.toBe(0);

    expect(await failure(g.url, 'GET', '/api/inspections/01ZZZZZZZZZZZZZZZZZZZZZZZZ', { token: g.adminToken })).toEqual({ status: 404, code: 'LOUPE_ERR_NOT_FOUND' });
    const noImage = g.parts.find((p) => !p.hasImage);
    expect(await failure(g.url, 'GET', `/api/inspections/${noImage?.id}/overlay`, { token: g.adminToken })).toEqual({ status: 404, code: 'LOUPE_ERR_NOT_FOUND' });
  });
});
