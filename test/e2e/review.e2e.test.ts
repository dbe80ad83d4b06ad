import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureHmiBuilt, launchBrowser, loginThroughPage, newScreen, untilAttr, untilText, untilVisible } from '../helpers/browser.js';
import { reviewStation, startTestGateway, triggerPart, waitFor, type TestGateway } from '../helpers/gateway-harness.js';

const UNDO_MS = 1500;

describe('operator review in the browser', () => {
  let gw: TestGateway;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    const distDir = await ensureHmiBuilt();
    gw = await startTestGateway({
      config: {
        hmi: { distDir, undoWindowMs: UNDO_MS },
        stations: [reviewStation('station-1'), reviewStation('station-t', { review: { timeoutMs: 2000, safeVerdict: 'fail' } })],
      },
    });
    browser = await launchBrowser();
  });

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
    // Settle what a test left in the queue, so the next one starts empty.
    for (const i of gw.gateway.review.list()) {
      gw.gateway.review.decide({ decisionId: `cleanup-${i.id}`, inspectionId: i.id, verdict: 'pass', operatorId: 'cleanup' });
    }
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.cleanup();
  });

  async function screen(operatorId = 'op1', pin = '1234', path = '/review?station=station-1'): Promise<Page> {
    const { context, page } = await newScreen(browser);
    contexts.push(context);
    await loginThroughPage(page, gw.url, operatorId, pin, path);
    await page.getByTestId('who').waitFor();
    await page.getByTestId('queue-count').waitFor();
    return page;
  }

  const currentPart = (page: Page) => page.getByTestId('part-id');

  it('shows a part that needs review within a second, without reloading the page', async () => {
    const page = await screen();
    await untilVisible(page.getByTestId('queue-empty'));
    const part = await triggerPart(gw, 'station-1', 'P-FIRST-1');
    const t0 = Date.now();
    await currentPart(page).filter({ hasText: part.partId }).waitFor({ timeout: 1000 });
    expect(Date.now() - t0).toBeLessThan(1000);
    await untilAttr(page.getByTestId('queue-count'), 'data-count', '1');
    await untilText(page.getByTestId('model-box'), 'REVIEW');
  });

  it('records Defect + class with the operator id, writes the inspection and outbox rows, and advances the queue', async () => {
    const page = await screen();
    const first = await triggerPart(gw, 'station-1', 'P-DEFECT-1');
    const second = await triggerPart(gw, 'station-1', 'P-DEFECT-2');
    await currentPart(page).filter({ hasText: first.partId }).waitFor();

    await page.getByTestId('defect').click();
    await page.locator('[data-class="crack"]').click();

    // The queue moves on at once; the decision is held for the undo window, then saved.
    await currentPart(page).filter({ hasText: second.partId }).waitFor();
    const item = page.getByTestId('feed-item').first();
    await untilAttr(item, 'data-status', 'held');
    await untilAttr(item, 'data-status', 'saved', UNDO_MS + 5000);

    const store = gw.gateway.store;
    const decision = store.decisions.forInspection(first.id);
    expect(decision).toMatchObject({ verdict: 'fail', defectClass: 'crack', operatorId: 'op1', decidedBy: 'operator' });
    expect(decision?.id).toBe(await item.getAttribute('data-decision'));
    expect(store.inspections.get(first.id)).toMatchObject({ state: 'reviewed', verdict: 'fail', defectClass: 'crack', decidedBy: 'operator' });
    const outbox = store.outbox.peek(1000).filter((m) => m.inspectionId === first.id);
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ kind: 'correction', messageId: decision?.id });
    await untilAttr(page.getByTestId('queue-count'), 'data-count', '1');
  });

  it('decides with the keyboard (G, D + digit) and U takes a decision back inside the undo window', async () => {
    const page = await screen();
    const a = await triggerPart(gw, 'station-1', 'P-KEY-A');
    const b = await triggerPart(gw, 'station-1', 'P-KEY-B');
    await currentPart(page).filter({ hasText: a.partId }).waitFor();

    await page.keyboard.press('g');
    await currentPart(page).filter({ hasText: b.partId }).waitFor();
    await page.keyboard.press('u');
    // Back on the screen, and never sent: nothing in the store for it.
    await currentPart(page).filter({ hasText: a.partId }).waitFor();
    await untilVisible(page.getByTestId('notice-undone'));
    await page.waitForTimeout(UNDO_MS + 500);
    expect(gw.gateway.store.decisions.forInspection(a.id)).toBeUndefined();

    await page.keyboard.press('d');
    await untilVisible(page.getByTestId('classes'));
    await page.keyboard.press('3'); // scratch, dent, crack, ... in the model's label order
    await currentPart(page).filter({ hasText: b.partId }).waitFor();
    await page.keyboard.press('g');
    await waitFor(() => gw.gateway.store.decisions.forInspection(b.id), UNDO_MS + 5000, 'decision on B');
    expect(gw.gateway.store.decisions.forInspection(a.id)).toMatchObject({ verdict: 'fail', defectClass: 'crack', operatorId: 'op1' });
    expect(gw.gateway.store.decisions.forInspection(b.id)).toMatchObject({ verdict: 'pass', defectClass: null, operatorId: 'op1' });
  });

  it('gives two screens different parts, and tells the second plainly when the first decided the same part', async () => {
    const one = await screen('op1', '1234');
    const two = await screen('admin', '2580');
    const part = await triggerPart(gw, 'station-1', 'P-TWO-SCREENS');

    // Whichever screen claimed it, the other one says it is being reviewed elsewhere.
    await waitFor(async () => (await one.getByTestId('part-id').count()) + (await two.getByTestId('part-id').count()) === 1, 5000, 'one screen holding the part');
    const [holder, other] = (await one.getByTestId('part-id').count()) === 1 ? [one, two] : [two, one];
    await untilText(other.getByTestId('queue-empty'), /another screen/);

    // The other operator takes it over anyway; both now show it and both decide inside the undo window.
    await other.getByRole('button', { name: 'Review it here' }).click();
    await currentPart(other).filter({ hasText: part.partId }).waitFor();
    await holder.getByTestId('good').click();
    await other.getByTestId('defect').click();
    await other.locator('[data-class="dent"]').click();

    await untilAttr(holder.getByTestId('feed-item').first(), 'data-status', 'saved', UNDO_MS + 5000);
    const refused = other.getByTestId('feed-item').first();
    await untilAttr(refused, 'data-status', 'refused', UNDO_MS + 5000);
    await untilText(refused, /already decided by (Demo operator|Administrator): Good/);
    expect(gw.gateway.store.decisions.forInspection(part.id)?.verdict).toBe('pass');
    expect(gw.gateway.store.outbox.peek(1000).filter((m) => m.inspectionId === part.id)).toHaveLength(1);
  });

  it('applies the safe verdict when nobody reviews in time, and shows that the part timed out', async () => {
    const page = await screen('op1', '1234', '/review?station=station-t');
    const part = await triggerPart(gw, 'station-t', 'P-TIMEOUT');
    await currentPart(page).filter({ hasText: part.partId }).waitFor();
    await untilText(page.getByTestId('timer'), /FAIL/);

    await untilText(page.getByTestId('flash'), 'Timed out', 5000);
    await untilText(page.getByTestId('notice-timeout'), part.partId);
    await untilVisible(page.getByTestId('queue-empty'));
    expect(gw.gateway.store.inspections.get(part.id)).toMatchObject({ state: 'timed-out', verdict: 'fail', decidedBy: 'timeout' });
    expect(gw.gateway.store.decisions.forInspection(part.id)).toMatchObject({ decidedBy: 'timeout', operatorId: null });
  });
});
