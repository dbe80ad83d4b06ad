import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureHmiBuilt, launchBrowser, newScreen, untilAttr, untilText, untilVisible } from '../helpers/browser.js';
import { loginCookie, reviewStation, startTestGateway, triggerPart, type TestGateway } from '../helpers/gateway-harness.js';

interface Summary {
  rates: { yield: { value: number | null } };
}

/** A share as the KPI cards write it: two decimals and a spaced percent sign. */
const share = (v: number, locale: string) => `${(v * 100).toLocaleString(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} %`;

describe('the engineer dashboard in German', () => {
  let gw: TestGateway;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // The demo model's own thresholds decide most parts: a yield to show.
    gw = await startTestGateway({ config: { hmi: { distDir: await ensureHmiBuilt() }, stations: [reviewStation('station-1', { policy: { auditRate: 0 } })] } });
    for (let n = 0; n < 10; n++) await triggerPart(gw);
    browser = await launchBrowser();
    // An English browser: the German comes from `?lang=de` alone.
    ({ context, page } = await newScreen(browser, { touch: false, width: 1400, height: 1000, locale: 'en-GB' }));
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await gw?.cleanup();
  });

  it('speaks German with German numbers when asked to, and English again after the switch', async () => {
    const res = await fetch(`${gw.url}/api/stats/summary`, { headers: { cookie: await loginCookie(gw.url, 'admin', '2580') } });
    const yieldValue = ((await res.json()) as Summary).rates.yield.value;
    if (yieldValue === null) throw new Error('no settled parts: the test needs a yield to show');

    await page.goto(`${gw.url}/dashboard?lang=de`);
    await untilText(page.getByTestId('dash-login'), 'Mit HMI-ID und PIN anmelden');
    await page.getByTestId('dash-id').fill('admin');
    await page.getByTestId('dash-pin').fill('2580');
    await page.getByTestId('dash-login-submit').click();

    await untilAttr(page.locator('html'), 'lang', 'de');
    expect(await page.title()).toBe('Loupe · Ingenieur-Dashboard');
    await untilText(page.getByTestId('kpi-yield'), 'Ausbeute');
    await untilText(page.getByTestId('kpi-review'), 'Nachprüfquote');
    await untilText(page.getByTestId('chart-pchart'), 'p-Karte pro Stunde');
    await untilText(page.getByTestId('chart-pareto'), 'Fehler-Pareto');
    await untilText(page.getByTestId('exports'), 'Diese Auswahl exportieren:');
    await untilText(page.getByTestId('export-zip'), 'ZIP mit Bildern');
    await untilText(page.getByTestId('models').locator('h2'), 'Modelle');
    await untilText(page.getByTestId('models-station-1'), 'Zurückrollen auf');
    await untilText(page.getByTestId('filters'), 'Diagramme pro');

    // Numbers and dates the German way: a decimal comma, day.month.year.
    const german = share(yieldValue, 'de-DE');
    expect(german).toMatch(/^\d{1,3},\d{2} %$/);
    await untilText(page.getByTestId('kpi-yield'), german);
    expect(await page.getByTestId('kpi-yield').textContent()).not.toMatch(/\d\.\d{2} %/);
    await untilVisible(page.getByTestId('row').first());
    await untilText(page.getByTestId('row').first(), /\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}:\d{2}/);

    // The switch names the other language; the page comes back in English, the choice stored on this device.
    await untilText(page.getByTestId('dash-lang'), 'English');
    await page.getByTestId('dash-lang').click();
    await untilAttr(page.locator('html'), 'lang', 'en', 10_000);
    await untilText(page.getByTestId('kpi-yield'), 'Yield', 10_000);
    await untilText(page.getByTestId('kpi-yield'), share(yieldValue, 'en-GB'));
    await untilText(page.getByTestId('chart-pchart'), 'p-chart per hour');
    await untilText(page.getByTestId('exports'), 'Export this selection:');
    await untilText(page.getByTestId('dash-lang'), 'Deutsch');
    expect(new URL(page.url()).searchParams.get('lang')).toBeNull();
    expect(await page.evaluate(() => localStorage.getItem('loupe.language'))).toBe('en');
  });
});
