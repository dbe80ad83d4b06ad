import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIME_ZONE, WINDOW } from '../../helpers/filled-store.js';
import { tempDir } from '../../helpers/test-config.js';
import { call, LiveLine, localTime, startFilledGateway, type FilledGateway } from './engineer-harness.js';
import { readZip } from './zip-reader.js';

let g: FilledGateway;
beforeAll(async () => {
  g = await startFilledGateway('loupe-engineer-export-');
}, 120_000);
afterAll(async () => g?.close());

const window = `to=${encodeURIComponent(WINDOW.to.toISOString())}`;

interface ApiItem {
  id: string;
  partId: string;
  station: string;
  triggeredAt: string;
  trigger: string;
  modelId: string;
  modelVersion: string;
  findings: { label: string; score: number }[];
  defectScore: number | null;
  modelVerdict: string | null;
  verdict: string | null;
  defectClass: string | null;
  decidedBy: string | null;
  reason: string;
  audit: boolean;
  state: string;
  errorCode: string | null;
  timings: Record<string, number>;
  imageUrl: string | null;
  sourceRef: string | null;
  truth: { label: string } | null;
  overridden: boolean;
  review: { id: string; verdict: string; defectClass: string | null; note: string | null; decidedBy: string; operatorId: string | null; decidedAt: string } | null;
}

async function download(path: string): Promise<{ body: Buffer; rows: number; type: string | null; disposition: string | null }> {
  const res = await fetch(g.url + path, { headers: { authorization: `Bearer ${g.adminToken}` } });
  expect(res.status, path).toBe(200);
  return { body: Buffer.from(await res.arrayBuffer()), rows: Number(res.headers.get('x-loupe-export-rows')), type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition') };
}

/** Every inspection of a filter through the JSON list, oldest first: what the export must match. */
async function listAll(query: string): Promise<ApiItem[]> {
  const out: ApiItem[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: ApiItem[]; nextCursor: string | null } = await call(g.url, 'GET', `/api/inspections?order=asc&limit=500&${query}${cursor ? `&cursor=${cursor}` : ''}`, { token: g.adminToken });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

const shiftName = (hour: number) => (hour >= 6 && hour < 14 ? 'early' : hour >= 14 && hour < 22 ? 'late' : 'night');
const cell = (v: string | number | null | undefined) => (v === null || v === undefined ? '' : String(v));

describe('engineer API: exports', () => {
  it('streams a CSV that a real CSV parser reads back, every field of every part', async () => {
    const csv = await download(`/api/exports/inspections.csv?${window}&bom=false&guardFormulas=false`);
    expect(csv.type).toBe('text/csv; charset=utf-8');
    expect(csv.disposition).toMatch(/^attachment; filename="loupe-inspections-\d{8}-\d{4}\.csv"$/);
    const text = csv.body.toString('utf8');
    expect(text.charCodeAt(0)).not.toBe(0xfeff);
    expect(text.split('\r\n').length).toBeGreaterThan(g.parts.length);
    const rows = parse(text, { columns: true, strict: true } as never) as Record<string, string>[];
    const items = await listAll(window);
    expect(rows).toHaveLength(g.parts.length);
    expect(csv.rows).toBe(g.parts.length);
    expect(items.map((i) => i.id)).toEqual(rows.map((r) => r.id));

    for (const [k, r] of rows.entries()) {
      const i = items[k] as ApiItem;
      const at = Date.parse(i.triggeredAt);
      const local = localTime(at, TIME_ZONE);
      for (const f of ['id', 'partId', 'station', 'trigger', 'modelId', 'modelVersion', 'modelVerdict', 'verdict', 'defectClass', 'decidedBy', 'state', 'errorCode', 'reason', 'sourceRef'] as const) {
        expect(r[f], `${i.id} ${f}`).toBe(cell(i[f]));
      }
      // Times: the same instant, written with the plant's offset.
      expect(Date.parse(r.triggeredAt ?? '')).toBe(at);
      expect(r.triggeredAt?.endsWith(local.offset)).toBe(true);
      expect(r.triggeredAtLocal?.slice(0, 16)).toBe(`${local.date} ${String(local.hour).padStart(2, '0')}:${String(local.minute).padStart(2, '0')}`);
      expect(r.shift).toBe(shiftName(local.hour));
      // Numbers: exactly the same double.
      expect(r.defectScore === '' ? null : Number(r.defectScore)).toBe(i.defectScore);
      expect(r.modelClass).toBe(cell(i.findings[0]?.label));
      expect(r.modelClassScore === '' ? null : Number(r.modelClassScore)).toBe(i.findings[0]?.score ?? null);
      expect(Math.abs(Number(r.totalMs) - (i.timings.totalMs ?? Number.NaN))).toBeLessThanOrEqual(0.005);
      expect(r.audit).toBe(String(i.audit));
      expect(r.overridden).toBe(String(i.overridden));
      expect(r.reviewDecisionId).toBe(cell(i.review?.id));
      expect(r.reviewVerdict).toBe(cell(i.review?.verdict));
      expect(r.reviewDefectClass).toBe(cell(i.review?.defectClass));
      expect(r.reviewedBy).toBe(cell(i.review ? (i.review.operatorId ?? i.review.decidedBy) : null));
      expect(r.reviewedAt === '' ? null : Date.parse(r.reviewedAt ?? '')).toBe(i.review ? Date.parse(i.review.decidedAt) : null);
      expect(r.reviewNote).toBe(cell(i.review?.note));
      expect(r.truthLabel).toBe(cell(i.truth?.label));
      expect(r.imageFile === '').toBe(i.imageUrl === null);
      if (i.imageUrl !== null) expect(r.imageFile).toBe(`images/${new Date(at).toISOString().slice(0, 10)}/${i.station}/${i.id}.jpg`);
      expect(JSON.parse(r.findings ?? 'null')).toEqual(i.findings);
    }
    // The awkward text survived: commas, quotes, line breaks, non-ASCII.
    const notes = new Set(rows.map((r) => r.reviewNote));
    for (const n of ['Kratzer, „tief“ – bitte prüfen', 'two\nlines', 'says "dent"', 'burr at hole 3', 'Ø 12 ✓; ok?']) expect(notes, n).toContain(n);
    expect(rows.map((r) => r.partId)).toContain('B-00018,"quoted"');
  });

  it('makes CSV that Excel opens safely: byte order mark, semicolons on request, formulas neutralised', async () => {
    const excel = (await download(`/api/exports/inspections.csv?${window}`)).body.toString('utf8');
    expect(excel.charCodeAt(0)).toBe(0xfeff);
    const rows = parse(excel, { columns: true, bom: true } as never) as Record<string, string>[];
    const exact = parse((await download(`/api/exports/inspections.csv?${window}&bom=false&guardFormulas=false`)).body.toString('utf8'), { columns: true } as never) as Record<string, string>[];
    expect(rows).toHaveLength(exact.length);
    for (const [k, r] of rows.entries()) {
      const e = exact[k] as Record<string, string>;
      for (const [col, v] of Object.entries(e)) {
        // A text that could start a formula gets a leading quote; everything else is the same.
        const guarded = /^[=+\-@]/.test(v) && !['defectScore', 'modelClassScore', 'totalMs', 'findings'].includes(col);
        expect(r[col], `${e.id} ${col}`).toBe(guarded ? `'${v}` : v);
      }
    }
    expect(rows.map((r) => r.partId)).toContain(`'=HYPERLINK("http://example.invalid")`);
    expect(rows.map((r) => r.reviewNote)).toContain(`'=1+1`);

    const semi = (await download(`/api/exports/inspections.csv?${window}&delimiter=semicolon&guardFormulas=false`)).body.toString('utf8');
    expect(semi.slice(1, 12)).toBe('id;partId;s');
    expect(parse(semi, { columns: true, bom: true, delimiter: ';' } as never)).toEqual(exact);
  });

  it('streams NDJSON with the same records, typed', async () => {
    const nd = await download(`/api/exports/inspections.ndjson?${window}&order=desc`);
    expect(nd.type).toBe('application/x-ndjson; charset=utf-8');
    const lines = nd.body.toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(g.parts.length);
    const csv = parse((await download(`/api/exports/inspections.csv?${window}&order=desc&bom=false&guardFormulas=false`)).body.toString('utf8'), { columns: true } as never) as Record<string, string>[];
    for (const [k, rec] of records.entries()) {
      const r = csv[k] as Record<string, string>;
      for (const [col, v] of Object.entries(rec)) {
        const asCell = v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
        expect(asCell, `${rec.id} ${col}`).toBe(r[col]);
      }
      expect(typeof rec.audit).toBe('boolean');
    }
    const byId = new Map(g.parts.map((p) => [p.id, p]));
    for (const rec of records) expect(rec.defectScore).toBe(byId.get(rec.id as string)?.defectScore);
  });

  it('packs the images and the CSV of a filter into a ZIP', async () => {
    const filter = `${window}&defectClass=crack&verdict=fail`;
    const zip = await download(`/api/exports/inspections.zip?${filter}`);
    expect(zip.type).toBe('application/zip');
    const entries = readZip(zip.body);
    const expected = g.parts.filter((p) => p.final.verdict === 'fail' && p.final.defectClass === 'crack');
    expect(expected.length).toBeGreaterThan(3);
    expect(zip.rows).toBe(expected.length);
    const names = entries.map((e) => e.name);
    expect(names[0]).toBe('inspections.csv');
    expect(names.at(-1)).toBe('export.json');
    const csv = parse(entries[0]?.data.toString('utf8') ?? '', { columns: true, bom: true } as never) as Record<string, string>[];
    expect(csv.map((r) => r.id).sort()).toEqual(expected.map((p) => p.id).sort());
    const images = entries.filter((e) => e.name.startsWith('images/'));
    expect(images.map((e) => e.name)).toEqual(csv.map((r) => r.imageFile));
    expect(images.every((e) => e.method === 'stored')).toBe(true);
    for (const r of csv.slice(0, 5)) {
      const res = await fetch(`${g.url}/api/inspections/${r.id}/image`, { headers: { authorization: `Bearer ${g.adminToken}` } });
      expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), images.find((e) => e.name === r.imageFile)?.data ?? Buffer.alloc(0))).toBe(0);
    }
    const summary = JSON.parse(entries.at(-1)?.data.toString('utf8') ?? '{}') as { rows: number; images: number; missingImages: number; filter: Record<string, unknown> };
    expect(summary).toMatchObject({ rows: expected.length, images: images.length, missingImages: 0, filter: { defectClasses: ['crack'], verdicts: ['fail'] } });
    // And a standard unzip agrees, where one is installed.
    let unzip = true;
    try {
      execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    } catch {
      unzip = false;
    }
    if (unzip) {
      const tmp = tempDir('loupe-zip-');
      try {
        const file = join(tmp.dir, 'export.zip');
        writeFileSync(file, zip.body);
        expect(execFileSync('unzip', ['-tq', file], { encoding: 'utf8' })).toContain('No errors detected');
      } finally {
        tmp.cleanup();
      }
    }
  });

  it('exports one consistent snapshot while parts keep arriving', async () => {
    const live = new LiveLine(g.url, g.adminToken, ['line-a']);
    try {
      while (live.created.length < 3) await new Promise((r) => setTimeout(r, 20));
      for (const format of ['csv', 'ndjson'] as const) {
        const e = await download(`/api/exports/inspections.${format}?bom=false`);
        const n = format === 'csv' ? (parse(e.body.toString('utf8'), { columns: true } as never) as unknown[]).length : e.body.toString('utf8').trim().split('\n').length;
        expect(n, format).toBe(e.rows);
        expect(n).toBeGreaterThan(g.parts.length);
      }
    } finally {
      await live.stop();
    }
  });

  it('refuses a third export while two stream, with 429 and Retry-After, and takes one again when a download ends', async () => {
    const open = async () => fetch(`${g.url}/api/exports/inspections.zip`, { headers: { authorization: `Bearer ${g.adminToken}` } });
    // ZIPs with every image: far more than socket buffers hold, so an unread download keeps its slot.
    const first = await open();
    const second = await open();
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await open();
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('30');
    expect(await third.json()).toMatchObject({ code: 'LOUPE_ERR_EXPORT_BUSY' });

    // The client walks away from one download: its slot comes back.
    await first.body?.cancel();
    let again = await open();
    for (let i = 0; i < 50 && again.status === 429; i++) {
      await again.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
      again = await open();
    }
    expect(again.status).toBe(200);
    await again.body?.cancel();
    await second.body?.cancel();
  });
});
