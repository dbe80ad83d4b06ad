import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureHmiBuilt, launchBrowser, loginThroughPage, newScreen, untilText, untilVisible } from '../../helpers/browser.js';
import { call, startFilledGateway, type FilledGateway } from './engineer-harness.js';

/** The engineer dashboard in real headless Chromium, on a store filled with three days of production. */

let g: FilledGateway;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  g = await startFilledGateway('loupe-engineer-dash-', { hmi: { distDir: await ensureHmiBuilt() } });
  browser = await launchBrowser();
}, 180_000);
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});
afterAll(async () => {
  await browser?.close();
  await g?.close();
});

async function page(): Promise<Page> {
  const s = await newScreen(browser, { width: 1600, height: 1000, touch: false });
  contexts.push(s.context);
  return s.page;
}

async function loginOnDashboard(p: Page, id: string, pin: string, path = '/dashboard'): Promise<void> {
  await p.goto(g.url + path);
  await p.getByTestId('dash-id').fill(id);
  await p.getByTestId('dash-pin').fill(pin);
  await p.getByTestId('dash-login-submit').click();
}

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)} %`);
const api = <T>(path: string) => call<T>(g.url, 'GET', path, { token: g.adminToken });

describe('engineer dashboard', () => {
  it('shows the statistics, charts and inspections the API computes, and a part with its overlay', async () => {
    const p = await page();
    await loginOnDashboard(p, 'admin', '2580');
    await untilVisible(p.getByTestId('kpi-yield'), 15_000);

    const summary = await api<{ counts: { inspected: number }; rates: Record<string, { value: number | null }> }>('/api/stats/summary');
    await untilText(p.getByTestId('kpi-yield'), pct(summary.rates.yield?.value ?? null));
    await untilText(p.getByTestId('kpi-fpy'), pct(summary.rates.firstPassYield?.value ?? null));
    await untilText(p.getByTestId('kpi-inspected'), summary.counts.inspected.toLocaleString('en-GB'));

    const pchart = await api<{ points: unknown[]; outOfControl: number }>('/api/stats/p-chart?by=hour');
    await untilVisible(p.getByTestId('pchart-point').first());
    expect(await p.getByTestId('pchart-point').count()).toBe(pchart.points.length);
    expect(await p.locator('[data-testid="pchart-point"]:not([data-flags=""])').count()).toBe(pchart.outOfControl);
    expect(pchart.outOfControl).toBeGreaterThan(0);
    const pareto = await api<{ bars: { defectClass: string }[] }>('/api/stats/pareto');
    expect(await p.getByTestId('pareto-bar').evaluateAll((els) => els.map((e) => e.getAttribute('data-class')))).toEqual(pareto.bars.map((b) => b.defectClass));
    const confusion = await api<{ labels: string[] }>('/api/stats/confusion');
    expect(await p.getByTestId('confusion-cell').count()).toBe(confusion.labels.length ** 2);
    await untilText(p.getByTestId('kpi-escapes'), 'audited passes');

    // The table: newest first, with thumbnails that load.
    await untilVisible(p.getByTestId('row').first());
    const first = await api<{ items: { id: string }[] }>('/api/inspections?limit=50');
    expect(await p.getByTestId('row').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))).toEqual(first.items.map((i) => i.id));
    await untilText(p.getByTestId('match-count'), `${summary.counts.inspected.toLocaleString('en-GB')} parts match`);
    const thumb = p.getByTestId('row').first().locator('img');
    await thumb.scrollIntoViewIfNeeded();
    await p.waitForFunction((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth === 96, await thumb.elementHandle(), { timeout: 10_000 });
    await p.getByTestId('more').click();
    await p.waitForFunction(() => document.querySelectorAll('[data-testid="row"]').length === 100, undefined, { timeout: 10_000 });

    // One part: overlay image, history; the ground truth toggle draws another picture.
    const part = g.parts.find((x) => x.final.decidedBy === 'operator' && x.truth !== 'good');
    if (!part) throw new Error('no judged defective part');
    await p.goto(`${g.url}/dashboard?partIdPrefix=${encodeURIComponent(part.partId)}`);
    await untilVisible(p.getByTestId('row').first(), 15_000);
    await p.getByTestId('row').first().click();
    const dialog = p.getByTestId('part-dialog');
    await untilVisible(dialog);
    const overlay = dialog.getByTestId('overlay');
    await p.waitForFunction((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0, await overlay.elementHandle(), { timeout: 10_000 });
    expect(await overlay.getAttribute('src')).toBe(`/api/inspections/${part.id}/overlay`);
    await untilText(dialog.getByTestId('history'), 'decided');
    await untilText(dialog.getByTestId('history'), part.operator?.id ?? '');
    await dialog.getByTestId('show-truth').check();
    expect(await overlay.getAttribute('src')).toBe(`/api/inspections/${part.id}/overlay?truth=true`);
  });

  it('filters the whole page, keeps the filter in the URL, and exports exactly the filtered parts', async () => {
    const p = await page();
    await loginOnDashboard(p, 'admin', '2580', '/dashboard?station=line-b');
    await untilVisible(p.getByTestId('row').first(), 15_000);
    await p.getByTestId('filter-verdict').selectOption('fail');
    await p.waitForURL(/verdict=fail/);
    const expected = g.parts.filter((x) => x.station === 'line-b' && x.final.verdict === 'fail').length;
    await untilText(p.getByTestId('match-count'), `${expected.toLocaleString('en-GB')} parts match`, 10_000);
    expect(await p.getByTestId('row').evaluateAll((els) => els.every((e) => e.textContent?.includes('line-b')))).toBe(true);
    const href = await p.getByTestId('export-csv').getAttribute('href');
    expect(href).toBe('/api/exports/inspections.csv?station=line-b&verdict=fail');
    // The download link works with the page's own session.
    const csv = await p.request.get(g.url + (href ?? ''));
    expect(csv.status()).toBe(200);
    expect(csv.headers()['x-loupe-export-rows']).toBe(String(expected));
    expect((await csv.text()).trim().split('\r\n')).toHaveLength(expected + 1);
    await untilText(p.getByTestId('kpi-inspected'), String(expected));
  });

  it('is reached from the HMI by engineers, and refuses operators', async () => {
    const p = await page();
    await loginThroughPage(p, g.url, 'admin', '2580');
    await untilVisible(p.locator('[data-nav="dashboard"]'), 10_000);
    await p.locator('[data-nav="dashboard"]').click();
    await untilVisible(p.getByTestId('kpi-yield'), 15_000);
    await untilText(p.getByTestId('dash-who'), 'admin');

    const o = await page();
    await loginOnDashboard(o, 'op1', '1234');
    await untilText(o.getByTestId('dash-denied'), 'needs the engineer or admin role');
    // The same login on the HMI: no dashboard link for an operator.
    await o.goto(`${g.url}/review`);
    await untilVisible(o.getByTestId('who'));
    expect(await o.locator('[data-nav="dashboard"]').count()).toBe(0);
  });
});
