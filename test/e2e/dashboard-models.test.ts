import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureHmiBuilt, launchBrowser, newScreen, untilText, untilVisible } from '../helpers/browser.js';
import { loginCookie, startTestGateway, triggerPart, type TestGateway } from '../helpers/gateway-harness.js';
import { demoVersion, incoming, removeVariants, station } from '../integration/models/model-fixtures.js';

interface HistoryEntry {
  action: string;
  actor: string;
  reason: string;
  model: { version: string | null } | null;
  detail: Record<string, unknown> | null;
}

describe('the models panel on the engineer dashboard', () => {
  let gw: TestGateway;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    gw = await startTestGateway({ config: { hmi: { distDir: await ensureHmiBuilt() }, stations: [station()] } });
    const models = gw.gateway.models;
    await models.register(incoming(demoVersion('1.1.0')));
    await models.startShadow('station-1', 'demo-part', '1.1.0', { actor: 'admin', reason: 'compare before promoting' });
    // A few shadowed parts: a report to show, too little evidence for the gate.
    for (let n = 0; n < 5; n++) await triggerPart(gw);
    browser = await launchBrowser();
    ({ context, page } = await newScreen(browser, { touch: false, width: 1400, height: 1000 }));
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await gw?.cleanup();
    removeVariants();
  });

  async function history(): Promise<HistoryEntry[]> {
    const cookie = await loginCookie(gw.url, 'admin', '2580');
    const res = await fetch(`${gw.url}/api/models/station-1/history?limit=5`, { headers: { cookie } });
    expect(res.status).toBe(200);
    return (await res.json()) as HistoryEntry[];
  }

  it('promotes the shadow candidate and rolls it back from the dashboard, each with a recorded reason', async () => {
    await page.goto(`${gw.url}/dashboard`);
    await page.getByTestId('dash-id').fill('admin');
    await page.getByTestId('dash-pin').fill('2580');
    await page.getByTestId('dash-login-submit').click();
    const card = page.getByTestId('models-station-1');
    await untilText(card.getByTestId('model-active-version'), 'demo-part@1.0.0');
    await untilText(card.getByTestId('model-candidate'), 'demo-part@1.1.0');
    await untilText(card.getByTestId('model-candidate'), /Shadowed\d+ parts? \(running\)/);
    await untilText(card.getByTestId('model-gate'), 'not passed');

    // The gate refuses without force: the API's message is shown and nothing changes.
    await card.getByTestId('model-promote').click();
    await card.getByTestId('model-reason').fill('lighting changed');
    await card.getByTestId('model-confirm').click();
    await untilText(card.getByTestId('model-result'), 'LOUPE_ERR_MODEL_PROMOTE_GATE');
    await untilText(card.getByTestId('model-active-version'), 'demo-part@1.0.0');

    // A reason is required before anything is sent.
    await card.getByTestId('model-promote').click();
    await card.getByTestId('model-confirm').click();
    expect(await card.getByTestId('model-form').count()).toBe(1);

    await card.getByTestId('model-reason').fill('lighting changed; validated offline');
    await card.getByTestId('model-force').check();
    if (process.env.LOUPE_SCREENSHOTS) await page.getByTestId('models').screenshot({ path: join(process.env.LOUPE_SCREENSHOTS, 'dashboard-models-confirm.png') });
    await card.getByTestId('model-confirm').click();
    await untilText(card.getByTestId('model-result'), 'Promoted');
    await untilText(card.getByTestId('model-active-version'), 'demo-part@1.1.0');
    await untilText(card.getByTestId('model-active'), 'admin: lighting changed; validated offline');
    await untilVisible(card.getByTestId('model-history'));
    const promoted = (await history())[0];
    expect(promoted).toMatchObject({ action: 'promote', actor: 'admin', reason: 'lighting changed; validated offline', model: { version: '1.1.0' }, detail: { forced: true } });
    expect((await triggerPart(gw)).modelVersion).toBe('1.1.0');
    if (process.env.LOUPE_SCREENSHOTS) await page.getByTestId('models').screenshot({ path: join(process.env.LOUPE_SCREENSHOTS, 'dashboard-models.png') });

    await card.getByTestId('model-rollback').click();
    await card.getByTestId('model-reason').fill('escapes went up');
    await card.getByTestId('model-confirm').click();
    await untilText(card.getByTestId('model-result'), 'Rolled back');
    await untilText(card.getByTestId('model-active-version'), 'demo-part@1.0.0');
    expect((await history())[0]).toMatchObject({ action: 'rollback', actor: 'admin', reason: 'escapes went up', model: { version: '1.0.0' } });
    expect((await triggerPart(gw)).modelVersion).toBe('1.0.0');
    // Nothing left to roll back to.
    expect(await card.getByTestId('model-rollback').isDisabled()).toBe(true);
  });
});
