import { App, type ScreenName } from './app.js';
import { DecisionOutbox } from './decisions.js';
import { initLanguage } from './i18n/index.js';
import { Live } from './live.js';
import { lockLayer, loginScreen } from './screens/login.js';
import { reviewScreen } from './screens/review.js';
import { statusScreen } from './screens/status.js';
import { usersScreen } from './screens/users.js';
import { loadSettings } from './settings.js';

/**
 * Entry: /review, /status, /users, /login, and the kiosk URL
 * /kiosk?screen=review|status&station=ID&lang=de for wall-mounted screens.
 */
async function boot(): Promise<void> {
  const root = document.getElementById('app')!;
  const params = new URLSearchParams(location.search);
  // Until the gateway answers, speak the browser's language.
  initLanguage(navigator.language.toLowerCase().startsWith('de') ? 'de' : 'en', params.get('lang'));
  const settings = await loadSettings(root);
  const kiosk = location.pathname === '/kiosk';
  initLanguage(settings.language, params.get('lang'));
  const fromPath = location.pathname.slice(1) as ScreenName;
  const screen: ScreenName = kiosk
    ? ((params.get('screen') as ScreenName | null) ?? settings.kiosk.screen)
    : (['login', 'review', 'status', 'users'] as const).includes(fromPath)
      ? fromPath
      : 'review';
  const station = params.get('station') ?? (kiosk ? settings.kiosk.station : null);

  const live = new Live(station);
  let app: App | null = null;
  const outbox = new DecisionOutbox({
    unreachable: () => live.noteUnreachable(),
    authProblem: () => void app?.refreshSession(),
  });
  app = new App(root, settings, live, outbox, { login: loginScreen, review: reviewScreen, status: statusScreen, users: usersScreen }, kiosk, station, lockLayer);
  if (kiosk) {
    // A kiosk browser is usually full screen already; otherwise the first touch asks for it.
    document.addEventListener('pointerdown', () => void document.documentElement.requestFullscreen?.().catch(() => undefined), { once: true });
  }
  await app.start(screen);
}

void boot();
