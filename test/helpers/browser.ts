import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HMI = join(ROOT, 'hmi');

/** Debian's Chromium, driven by playwright-core: no browser is ever downloaded. */
export const CHROMIUM = process.env.LOUPE_CHROMIUM ?? '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
    timeout: 30_000,
  });
}

/**
 * The HMI built from the current sources, into a cache folder named by a
 * hash of those sources: parallel test files share one build, and hmi/dist
 * (what `npm run build` made) is left alone.
 */
export async function ensureHmiBuilt(): Promise<string> {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'dist' || name === 'node_modules') continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else hash.update(relative(HMI, p)).update(readFileSync(p));
    }
  };
  walk(HMI);
  const cache = join(ROOT, 'node_modules', '.cache', 'loupe-hmi');
  const out = join(cache, hash.digest('hex').slice(0, 16));
  if (existsSync(join(out, 'index.html'))) return out;
  mkdirSync(cache, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const { build } = await import('vite');
  await build({ configFile: join(HMI, 'vite.config.ts'), root: HMI, logLevel: 'error', build: { outDir: tmp, emptyOutDir: true, sourcemap: false } });
  try {
    renameSync(tmp, out);
  } catch {
    // Another worker finished the same build first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

export interface ScreenOptions {
  width?: number;
  height?: number;
  /** Touch events on (a touchscreen panel). Default true. */
  touch?: boolean;
  locale?: string;
}

/** A fresh browser profile (own cookies and localStorage), like a second panel on the line. */
export async function newScreen(browser: Browser, opts: ScreenOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    hasTouch: opts.touch ?? true,
    locale: opts.locale ?? 'en-GB',
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return { context, page };
}

/** Log in through the page as an operator would: id, Next, PIN on the keypad, Log in. */
export async function loginThroughPage(page: Page, url: string, operatorId: string, pin: string, path = '/review'): Promise<void> {
  await page.goto(`${url}${path}`);
  await page.getByTestId('operator-id').fill(operatorId);
  await page.getByTestId('login-next').click();
  for (const d of pin) await page.locator(`.pinpad [data-key="${d}"]`).click();
  await page.getByTestId('pin-submit').click();
}

/** Poll `read` until `ok(value)`, at most `timeoutMs`; the error names what was last seen. */
async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // Not attached yet: keep waiting.
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait until the element's text matches (a substring or a pattern). */
export function untilText(loc: Locator, want: string | RegExp, timeoutMs = 5000): Promise<string> {
  return until(
    `text ${String(want)}`,
    async () => (await loc.first().textContent({ timeout: 250 })) ?? '',
    (t) => (typeof want === 'string' ? t.includes(want) : want.test(t)),
    timeoutMs,
  );
}

/** Wait until the element's attribute has the value. */
export async function untilAttr(loc: Locator, name: string, want: string, timeoutMs = 5000): Promise<void> {
  await until(`${name}="${want}"`, async () => loc.first().getAttribute(name, { timeout: 250 }), (v) => v === want, timeoutMs);
}

export async function untilVisible(loc: Locator, timeoutMs = 5000): Promise<void> {
  await loc.first().waitFor({ state: 'visible', timeout: timeoutMs });
}
