import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureHmiBuilt, launchBrowser, loginThroughPage, newScreen, untilAttr, untilText, untilVisible } from '../helpers/browser.js';
import { shiftStartedAnHourAgo, startTestGateway, triggerPart, waitFor, type TestGateway } from '../helpers/gateway-harness.js';

/** 15 mm at 96 CSS px per inch. */
const MIN_TARGET_PX = 57;

describe('what the screens show', () => {
  let gw: TestGateway;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ config: { gateway: { line: 'line-7' }, hmi: { distDir: await ensureHmiBuilt(), undoWindowMs: 500, shiftStarts: shiftStartedAnHourAgo() } } });
    browser = await launchBrowser();
  });

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.cleanup();
  });

  async function screen(size = { width: 1280, height: 800 }): Promise<Page> {
    const s = await newScreen(browser, size);
    contexts.push(s.context);
    await loginThroughPage(s.page, gw.url, 'op1', '1234');
    await untilVisible(s.page.getByTestId('who'));
    return s.page;
  }

  /** Every visible button inside `scope` that is smaller than a gloved finger. */
  async function smallTargets(p: Page, scope = 'body'): Promise<string[]> {
    return p.locator(`${scope} button:visible`).evaluateAll(
      (els, min) =>
        els
          .map((e) => ({ e, r: e.getBoundingClientRect() }))
          .filter(({ r }) => r.width > 0 && (r.width < min || r.height < min))
          .map(({ e, r }) => `${(e.textContent ?? '').trim() || e.getAttribute('aria-label')} ${Math.round(r.width)}x${Math.round(r.height)}`),
      MIN_TARGET_PX,
    );
  }

  it('shows line status: camera, frames/s, model and provider, links, uplink backlog, recent parts and shift yield', async () => {
    const p = await screen();
    for (let n = 0; n < 4; n++) await triggerPart(gw, 'station-1', `S-${n}`);
    const decided = gw.gateway.review.list()[0]!;
    gw.gateway.review.decide({ decisionId: 'status-test-1', inspectionId: decided.id, verdict: 'fail', defectClass: 'dent', operatorId: 'op1' });
    await p.getByTestId('status').count();
    await p.locator('[data-nav="status"]').click();
    const station = p.getByTestId('station-station-1');
    await untilVisible(station);
    await untilText(station.getByTestId('camera'), 'OK');
    await untilText(station.getByTestId('model'), 'demo-part');
    await untilText(station.getByTestId('model'), 'CPU');
    await waitFor(async () => Number((await station.getByTestId('fps').locator('.value').textContent())?.replace(',', '.')) > 0, 8000, 'frames/s above 0');
    await untilText(station.getByTestId('review-backlog'), '3');
    await untilText(p.getByTestId('uplink-backlog'), '1');
    await untilText(p.getByTestId('shift-yield'), '0.0 %');
    await untilText(p.getByTestId('shift-yield'), '1 defect');
    await untilAttr(p.getByTestId('recent-part').first(), 'data-verdict', 'review');
    expect(await p.getByTestId('recent-part').count()).toBe(4);
    await untilAttr(p.locator('[data-testid="recent-part"][data-verdict="fail"]'), 'data-verdict', 'fail');
    expect(await p.locator('[data-testid="recent-part"] img').count()).toBe(4);

    // Colour is never the only signal: every tile with a state also has an icon and a word.
    const tiles = await p.locator('.tile[data-state]').evaluateAll((els) => els.map((e) => ({ icon: !!e.querySelector('.value svg'), word: (e.querySelector('.value')?.textContent ?? '').trim() })));
    expect(tiles.length).toBeGreaterThan(3);
    for (const t of tiles) expect(t.icon && t.word.length > 0).toBe(true);
    const verdicts = await p.getByTestId('recent-part').evaluateAll((els) => els.map((e) => (e.querySelector('.verdict-tag')?.textContent ?? '').trim()));
    expect(verdicts).toEqual(expect.arrayContaining(['FAIL', 'REVIEW']));
  });

  it('keeps every button at least 15 mm for gloved fingers, on both panel sizes', async () => {
    for (const size of [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }]) {
      await triggerPart(gw, 'station-1', `BIG-${size.width}`);
      const p = await screen(size);
      await untilVisible(p.getByTestId('good'));
      expect(await smallTargets(p)).toEqual([]);
      await p.getByTestId('defect').click();
      await untilVisible(p.getByTestId('classes'));
      expect(await smallTargets(p)).toEqual([]);
      await p.getByTestId('back').click();
      await p.locator('[data-nav="status"]').click();
      await untilVisible(p.getByTestId('station-station-1'));
      expect(await smallTargets(p)).toEqual([]);
      await p.getByTestId('logout').click();
      await untilVisible(p.getByTestId('login'));
      expect(await smallTargets(p)).toEqual([]);
    }
  });

  it('draws the model heat map over the part, toggles the marks, and zooms with double-tap and pinch', async () => {
    const part = await triggerPart(gw, 'station-1', 'ZOOM-1');
    const p = await screen();
    // Oldest first: step to our part if older ones wait.
    await p.locator(`[data-id="${part.id}"]`).click();
    await p.getByTestId('part-id').filter({ hasText: 'ZOOM-1' }).waitFor();
    const stage = p.getByTestId('part-image');
    await p.locator('[data-overlay="heat"]').click();
    await untilVisible(p.getByTestId('heat-map'));
    await p.locator('[data-overlay="off"]').click();
    expect(await p.getByTestId('heat-map').count()).toBe(0);
    await p.locator('[data-overlay="boxes"]').click();
    const withBox = part.findings.filter((f) => f.box).length;
    expect(await p.getByTestId('finding-box').count()).toBe(withBox);

    // Double-tap zooms in at the finger and again back out.
    const box = (await stage.boundingBox())!;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await p.touchscreen.tap(cx, cy);
    await p.touchscreen.tap(cx, cy);
    await untilAttr(stage, 'data-zoom', '2.50');
    await untilVisible(p.getByRole('button', { name: 'Fit image' }));
    await p.touchscreen.tap(cx, cy);
    await p.touchscreen.tap(cx, cy);
    await untilAttr(stage, 'data-zoom', '1.00');

    // Pinch: two fingers moving apart.
    await stage.evaluate((el, c) => {
      const ev = (type: string, id: number, x: number) =>
        el.dispatchEvent(new PointerEvent(type, { pointerId: id, clientX: x, clientY: c.y, pointerType: 'touch', bubbles: true, isPrimary: id === 1 }));
      ev('pointerdown', 1, c.x - 20);
      ev('pointerdown', 2, c.x + 20);
      for (let d = 20; d <= 60; d += 10) {
        ev('pointermove', 1, c.x - d);
        ev('pointermove', 2, c.x + d);
      }
      ev('pointerup', 1, c.x - 60);
      ev('pointerup', 2, c.x + 60);
    }, { x: cx - box.x, y: cy - box.y });
    expect(Number(await stage.getAttribute('data-zoom'))).toBeGreaterThan(2.5);
  });
});
