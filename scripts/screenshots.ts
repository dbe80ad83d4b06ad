/**
 * `npm run screenshots`: starts a gateway with the demo model on a synthetic
 * line, puts parts into review, and saves the review and status screens at
 * 1280x800 and 1920x1080 (and the login screen) into screenshots/; then the
 * engineer dashboard on three days of filled production (test/helpers/filled-store.ts).
 * Needs the HMI built (the npm script builds it) and Chromium (LOUPE_CHROMIUM,
 * default /usr/bin/chromium).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { startGateway } from '../gateway/src/gateway.js';
import { launchBrowser, loginThroughPage, newScreen } from '../test/helpers/browser.js';
import { fillStore } from '../test/helpers/filled-store.js';
import { reviewStation, startTestGateway, triggerPart } from '../test/helpers/gateway-harness.js';
import { silentLog, tempDir, testConfig } from '../test/helpers/test-config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'screenshots');
const SIZES = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
];

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const gw = await startTestGateway({
    config: {
      gateway: { line: 'demo-line' },
      hmi: { distDir: join(ROOT, 'hmi', 'dist'), undoWindowMs: 30_000 },
      stations: [
        // Every part of this station goes to review, so the queue is full for the pictures...
        reviewStation('station-1', { name: 'Flange line, station 1', camera: { type: 'synthetic', seed: 20261125, defectRate: 0.3 } }),
        // ...and this one decides with the model's own thresholds, for a real yield on the status screen.
        reviewStation('station-2', { name: 'Flange line, station 2', camera: { type: 'synthetic', seed: 7, defectRate: 0.1 }, policy: { auditRate: 0 } }),
      ],
    },
  });
  const browser = await launchBrowser();
  try {
    // Enough parts for a queue, some decided by the model, for the status strip and the yield.
    let serial = 4711;
    const nextPart = (station = 'station-1') => triggerPart(gw, station, `FL-${String(serial++).padStart(6, '0')}`);
    for (let n = 0; n < 12; n++) await nextPart();
    for (let n = 0; n < 30; n++) await nextPart('station-2');
    // The line keeps running while the screens are shot: frames/s and the strip move.
    const line = setInterval(() => void nextPart('station-2').catch(() => undefined), 500);
    for (const size of SIZES) {
      for (const lang of ['en', 'de'] as const) {
        const { context, page } = await newScreen(browser, { ...size, locale: lang === 'de' ? 'de-DE' : 'en-GB' });
        const tag = `${size.width}x${size.height}${lang === 'en' ? '' : '-de'}`;
        // Each screen claims the part it shows: keep enough waiting for the next screen.
        for (let n = 0; n < 3; n++) await nextPart();
        await page.goto(`${gw.url}/login?lang=${lang}`);
        await page.getByTestId('operator-id').waitFor();
        if (lang === 'en') await page.screenshot({ path: join(OUT, `login-${tag}.png`) });
        await loginThroughPage(page, gw.url, 'op1', '1234', `/review?station=station-1&lang=${lang}`);
        await page.getByTestId('good').waitFor();
        await page.waitForTimeout(600);
        await page.screenshot({ path: join(OUT, `review-${tag}.png`) });
        if (lang === 'en') {
          // The class choice after `Defect`, and a decision in the undo window.
          await page.getByTestId('defect').click();
          await page.waitForTimeout(200);
          await page.screenshot({ path: join(OUT, `review-defect-${tag}.png`) });
          await page.locator('[data-class]').first().click();
          await page.waitForTimeout(300);
          await page.screenshot({ path: join(OUT, `review-undo-${tag}.png`) });
          await page.getByTestId('undo').click();
        }
        await page.goto(`${gw.url}/status?lang=${lang}`);
        await page.getByTestId('recent-part').first().waitFor();
        await page.waitForTimeout(2500);
        await page.screenshot({ path: join(OUT, `status-${tag}.png`) });
        await context.close();
      }
    }
    // The connection-lost banner, as an operator sees it when the gateway goes away.
    const { context, page } = await newScreen(browser, SIZES[0]);
    await loginThroughPage(page, gw.url, 'op1', '1234');
    await page.getByTestId('good').waitFor();
    await page.getByTestId('good').click();
    clearInterval(line);
    await gw.stop();
    await page.getByTestId('offline-banner').waitFor({ timeout: 15_000 });
    await page.waitForTimeout(5000);
    await page.screenshot({ path: join(OUT, 'review-offline-1280x800.png') });
    await context.close();
    await shootDashboard(browser);
    process.stdout.write(`screenshots written to ${OUT}\n`);
  } finally {
    await browser.close();
    await gw.cleanup();
  }
}

/** The engineer dashboard needs days of data to show anything: a store filled with three days of production. */
async function shootDashboard(browser: Browser): Promise<void> {
  const tmp = tempDir('loupe-screenshots-dash-');
  const filled = await fillStore(tmp.dir);
  const gateway = await startGateway(testConfig(tmp.dir, { ...filled.config, hmi: { distDir: join(ROOT, 'hmi', 'dist') } }), silentLog);
  try {
    for (const size of SIZES) {
      const { context, page } = await newScreen(browser, { ...size, touch: false });
      await page.goto(`${gateway.url}/dashboard`);
      await page.getByTestId('dash-id').fill('admin');
      await page.getByTestId('dash-pin').fill('2580');
      await page.getByTestId('dash-login-submit').click();
      await page.getByTestId('row').first().waitFor();
      await page.waitForTimeout(800);
      await page.screenshot({ path: join(OUT, `dashboard-${size.width}x${size.height}.png`) });
      if (size.width === 1920) {
        await page.getByTestId('filter-by').selectOption('shift');
        await page.getByTestId('row').first().waitFor();
        await page.waitForTimeout(800);
        await page.screenshot({ path: join(OUT, `dashboard-full-${size.width}.png`), fullPage: true });
        const part = filled.parts.find((p) => p.final.decidedBy === 'operator' && p.truth !== 'good' && p.hasImage);
        if (part) {
          await page.goto(`${gateway.url}/dashboard?partIdPrefix=${encodeURIComponent(part.partId)}`);
          await page.getByTestId('row').first().click();
          await page.getByTestId('show-truth').check();
          await page.waitForTimeout(800);
          await page.screenshot({ path: join(OUT, `dashboard-part-${size.width}x${size.height}.png`) });
        }
      }
      await context.close();
    }
  } finally {
    await gateway.stop();
    tmp.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`screenshots failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
