import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureHmiBuilt, launchBrowser, loginThroughPage, newScreen, untilText, untilVisible } from '../helpers/browser.js';
import { reviewStation, startTestGateway, type TestGateway } from '../helpers/gateway-harness.js';

describe('operators at the screen', () => {
  let gw: TestGateway;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({
      config: {
        // Short on purpose: three wrong PINs lock out, six seconds idle locks the screen.
        hmi: { distDir: await ensureHmiBuilt(), lockoutAttempts: 3, lockoutMinutes: 1, idleLockMinutes: 0.1, kiosk: { screen: 'status' } },
        stations: [reviewStation('station-1'), reviewStation('station-2')],
      },
    });
    browser = await launchBrowser();
  });

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.cleanup();
  });

  async function page(): Promise<Page> {
    const s = await newScreen(browser);
    contexts.push(s.context);
    return s.page;
  }

  async function typePin(p: Page, pin: string): Promise<void> {
    for (const d of pin) await p.locator(`.pinpad [data-key="${d}"]`).click();
    await p.getByTestId('pin-submit').click();
  }

  it('logs an operator in with id and PIN and shows who is logged in', async () => {
    const p = await page();
    await p.goto(`${gw.url}/review`);
    // Not logged in: the review screen asks for a login first.
    await untilVisible(p.getByTestId('login'));
    await untilVisible(p.getByTestId('demo-warning'));
    await loginThroughPage(p, gw.url, 'op1', '1234');
    await untilText(p.getByTestId('who'), 'Demo operator');
    await untilText(p.getByTestId('who'), 'Operator');
    expect(new URL(p.url()).pathname).toBe('/review');
    // An operator does not get the operators screen.
    expect(await p.locator('[data-nav="users"]').count()).toBe(0);
  });

  it('refuses a wrong PIN, then locks the operator id out after repeated failures', async () => {
    await gw.gateway.store.db.prepare(`INSERT INTO hmi_user (id, name, role, pin_hash, created_at, updated_at) SELECT 'op9', 'Nine', 'operator', pin_hash, 0, 0 FROM hmi_user WHERE id = 'op1'`).run();
    const p = await page();
    await p.goto(`${gw.url}/login`);
    await p.getByTestId('operator-id').fill('op9');
    await p.getByTestId('login-next').click();
    await typePin(p, '0000');
    await untilText(p.getByTestId('login-error'), 'Wrong operator ID or PIN');
    await typePin(p, '0001');
    await untilText(p.getByTestId('login-error'), 'Wrong operator ID or PIN');
    await typePin(p, '0002');
    await untilText(p.getByTestId('login-error'), 'Too many wrong PINs');
    // The right PIN does not help while locked out.
    await typePin(p, '1234');
    await untilText(p.getByTestId('login-error'), 'Too many wrong PINs');
    expect(await p.getByTestId('who').count()).toBe(0);
    const res = await fetch(`${gw.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ operatorId: 'op9', pin: '1234' }) });
    expect(res.status).toBe(429);
    expect(((await res.json()) as { code: string }).code).toBe('LOUPE_ERR_AUTH_LOCKED_OUT');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('locks the screen after the idle time; the gateway refuses review calls until the same PIN unlocks it', async () => {
    const p = await page();
    await loginThroughPage(p, gw.url, 'op1', '1234');
    await untilVisible(p.getByTestId('who'));
    await untilVisible(p.getByTestId('lock-screen'), 12_000);
    await untilText(p.getByTestId('lock-screen'), 'op1');
    const locked = await p.evaluate(async () => (await fetch('/api/review/queue')).json());
    expect(locked).toMatchObject({ code: 'LOUPE_ERR_AUTH_SESSION_LOCKED' });

    await typePin(p, '9999');
    await untilText(p.getByTestId('lock-screen'), 'Wrong PIN');
    await typePin(p, '1234');
    await p.getByTestId('lock-screen').waitFor({ state: 'detached' });
    const open = await p.evaluate(async () => (await fetch('/api/review/queue')).status);
    expect(open).toBe(200);
  });

  it('opens the kiosk URL on its screen without navigation to administration', async () => {
    const p = await page();
    await p.goto(`${gw.url}/kiosk`);
    // Configured kiosk screen: the line status, no login needed for a wall display.
    await untilVisible(p.getByTestId('station-station-1'));
    expect(await p.evaluate(() => document.body.classList.contains('kiosk'))).toBe(true);
    expect(await p.evaluate(() => document.body.classList.contains('hide-cursor'))).toBe(true);
    // A review kiosk for one station, logged in as admin: still no operators screen in kiosk mode.
    await p.goto(`${gw.url}/kiosk?screen=review&station=station-2`);
    await p.getByTestId('operator-id').fill('admin');
    await p.getByTestId('login-next').click();
    await typePin(p, '2580');
    await untilVisible(p.getByTestId('queue-count'));
    expect(new URL(p.url()).pathname).toBe('/kiosk');
    expect(new URL(p.url()).searchParams.get('station')).toBe('station-2');
    expect(await p.locator('[data-nav="users"]').count()).toBe(0);
  });

  it('lets an admin manage operators, and only an admin', async () => {
    const p = await page();
    await loginThroughPage(p, gw.url, 'admin', '2580', '/users');
    await untilVisible(p.locator('[data-user="op1"]'));
    await p.locator('input[name="id"]').fill('anna');
    await p.locator('input[name="name"]').fill('Anna Schmidt');
    await p.locator('input[name="pin"]').fill('4711');
    await p.getByRole('button', { name: 'Add operator' }).click();
    await untilVisible(p.locator('[data-user="anna"]'));

    const asOperator = await page();
    await loginThroughPage(asOperator, gw.url, 'anna', '4711');
    await untilText(asOperator.getByTestId('who'), 'Anna Schmidt');
    const forbidden = await asOperator.evaluate(async () => (await fetch('/api/users')).json());
    expect(forbidden).toMatchObject({ code: 'LOUPE_ERR_AUTH_FORBIDDEN' });
  });

  it('speaks German when chosen, and remembers it on this screen', async () => {
    const p = await page();
    await p.goto(`${gw.url}/login?lang=de`);
    await untilText(p.getByTestId('login'), 'Anmelden');
    await untilText(p.getByTestId('login'), 'Bediener-ID');
    await p.getByTestId('lang').click();
    await untilText(p.getByTestId('login'), 'Operator ID');
    await p.getByTestId('lang').click();
    await p.goto(`${gw.url}/status`);
    await untilText(p.getByTestId('status'), 'Schicht-Ausbeute');
  });
});
