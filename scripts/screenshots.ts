/**
 * `npm run screenshots`: starts a gateway with the demo model on a synthetic
 * line, puts parts into review, and saves the review and status screens at
 * 1280x800 and 1920x1080 (and the login screen) into screenshots/.
 * Needs the HMI built (the npm script builds it) and Chromium (LOUPE_CHROMIUM,
 * default /usr/bin/chromium).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, loginThroughPage, newScreen } from '../test/helpers/browser.js';
import { reviewStation, startTestGateway, triggerPart } from '../test/helpers/gateway-harness.js';

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
        reviewStation('station-1', { name: 'Flange line, station 1', camera: { type: 'synthetic', seed: 20261125, defectRate: 0.3 } as never, policy: { passBelow: 0.03, failAtOrAbove: 0.9, auditRate: 0 } as never }),
      ],
    },
  });
  const browser = await launchBrowser();
  try {
    // Enough parts for a queue, some decided by the model, for the status strip and the yield.
    let serial = 4711;
    const nextPart = () => triggerPart(gw, 'station-1', `FL-${String(serial++).padStart(6, '0')}`);
    for (let n = 0; n < 24; n++) await nextPart();
    // The line keeps running while the screens are shot: frames/s and the strip move.
    const line = setInterval(() => void nextPart().catch(() => undefined), 700);
    for (const size of SIZES) {
      for (const lang of ['en', 'de'] as const) {
        const { context, page } = await newScreen(browser, { ...size, locale: lang === 'de' ? 'de-DE' : 'en-GB' });
        const tag = `${size.width}x${size.height}${lang === 'en' ? '' : '-de'}`;
        // Each screen claims the part it shows: keep enough waiting for the next screen.
        for (let n = 0; n < 3; n++) await nextPart();
        await page.goto(`${gw.url}/login?lang=${lang}`);
        await page.getByTestId('operator-id').waitFor();
        if (lang === 'en') await page.screenshot({ path: join(OUT, `login-${tag}.png`) });
        await loginThroughPage(page, gw.url, 'op1', '1234', `/review?lang=${lang}`);
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
    process.stdout.write(`screenshots written to ${OUT}\n`);
  } finally {
    await browser.close();
    await gw.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`screenshots failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
