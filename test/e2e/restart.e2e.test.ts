import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureHmiBuilt, launchBrowser, loginThroughPage, newScreen, untilAttr, untilText, untilVisible } from '../helpers/browser.js';
import { startTestGateway, triggerPart, waitFor, type TestGateway } from '../helpers/gateway-harness.js';

const UNDO_MS = 300;

describe('review across a gateway restart', () => {
  let gw: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    gw = await startTestGateway({ config: { hmi: { distDir: await ensureHmiBuilt(), undoWindowMs: UNDO_MS } } });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.cleanup();
  });

  it('keeps every decision when the gateway restarts mid-review, and records each exactly once', async () => {
    const parts = [];
    for (const id of ['R-1', 'R-2', 'R-3']) parts.push(await triggerPart(gw, 'station-1', id));
    const [p1, p2, p3] = parts as [(typeof parts)[0], (typeof parts)[0], (typeof parts)[0]];
    const { context, page } = await newScreen(browser);
    await loginThroughPage(page, gw.url, 'op1', '1234');
    const current = page.getByTestId('part-id');
    await current.filter({ hasText: 'R-1' }).waitFor();
    // Set on the page once: still there at the end means the page never reloaded.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    // 1. An ordinary decision.
    await page.getByTestId('good').click();
    await untilAttr(page.getByTestId('feed-item').first(), 'data-status', 'saved', 5000);

    // 2. The gateway commits the next decision but its answer is lost on the way back...
    let answerLost = false;
    await page.route('**/api/review/decisions', async (route) => {
      try {
        // After the lost answer the link stays down until the gateway has stopped.
        if (answerLost) return await route.abort('connectionrefused');
        answerLost = true;
        await route.fetch();
        await route.abort('connectionreset');
      } catch {
        // The page or the gateway went away meanwhile: nothing left to intercept.
      }
    });
    await current.filter({ hasText: 'R-2' }).waitFor();
    await page.getByTestId('defect').click();
    await page.locator('[data-class="crack"]').click();
    await waitFor(() => gw.gateway.store.decisions.forInspection(p2.id), 5000, 'R-2 committed');
    // ...and then the gateway goes away before the screen could ask again.
    await gw.stop();
    await page.unroute('**/api/review/decisions');

    // 3. The screen says so plainly, and keeps taking decisions.
    await untilVisible(page.getByTestId('offline-banner'), 10_000);
    await current.filter({ hasText: 'R-3' }).waitFor();
    await page.getByTestId('good').click();
    await untilText(page.getByTestId('unsent-count'), '2 decisions waiting', 5000);
    const waiting = await page.getByTestId('feed-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    expect(waiting.filter((s) => s === 'waiting' || s === 'sending')).toHaveLength(2);

    // 4. The gateway comes back on the same port with the same store: the screen sends what it kept.
    gw = await gw.restart();
    await untilAttr(page.getByTestId('conn-state'), 'data-state', 'online', 15_000);
    await waitFor(async () => {
      const st = await page.getByTestId('feed-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
      return st.length >= 3 && st.slice(0, 3).every((s) => s === 'saved');
    }, 15_000, 'all three decisions saved');
    expect(await page.getByTestId('offline-banner').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

    // Exactly once each, by the operator who tapped, with the ids the screen made.
    const store = gw.gateway.store;
    const pageIds = await page.getByTestId('feed-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-decision')));
    for (const [p, verdict] of [[p1, 'pass'], [p2, 'fail'], [p3, 'pass']] as const) {
      const d = store.decisions.forInspection(p.id);
      expect(d).toMatchObject({ verdict, operatorId: 'op1', decidedBy: 'operator' });
      expect(pageIds).toContain(d?.id);
      expect(store.outbox.peek(1000).filter((m) => m.inspectionId === p.id)).toHaveLength(1);
      expect(store.inspections.get(p.id)?.state).toBe('reviewed');
    }
    // The decision whose answer was lost was recognised as a repeat, not recorded twice.
    await untilText(page.locator(`[data-decision="${store.decisions.forInspection(p2.id)?.id}"]`), 'reached the gateway already');
    await context.close();
  });
});
