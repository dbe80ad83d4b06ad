import { api, ApiError } from '../api.js';
import type { App, Screen } from '../app.js';
import { PinPad } from '../components/pin-pad.js';
import { h, replace } from '../dom.js';
import { duration } from '../format.js';
import { t, tn } from '../i18n/index.js';
import { icon } from '../icons.js';
import type { Session } from '../types.js';

function errorText(err: unknown): string {
  if (!(err instanceof ApiError)) return t('login.failed', { message: String(err) });
  if (err.code === 'LOUPE_ERR_AUTH_INVALID') return t('login.invalid');
  if (err.code === 'LOUPE_ERR_AUTH_LOCKED_OUT') return t('login.lockedOut', { time: duration(Number(err.details.retryAfterS ?? 60) * 1000) });
  if (err.code === 'LOUPE_ERR_AUTH_DISABLED') return t('login.disabled');
  if (err.offline) return t('conn.lost');
  return t('login.failed', { message: err.message });
}

function errorBox(text: string): HTMLElement {
  return h('div', { class: 'error-box', role: 'alert', 'data-testid': 'login-error' }, icon('warn'), text);
}

/**
 * Log in: operator id (typed, or one tap on a recent id), then the PIN on a
 * big keypad. Two steps so the keypad can be large.
 */
export function loginScreen(app: App): Screen {
  const card = h('div', { class: 'card', 'data-testid': 'login' });
  const el = h('div', { class: 'center' }, card);
  let operatorId = '';
  let pad: PinPad | null = null;
  let error: string | null = null;

  const askId = () => {
    pad = null;
    const input = h('input', { type: 'text', name: 'operatorId', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', value: operatorId, 'data-testid': 'operator-id' });
    const next = () => {
      operatorId = input.value.trim();
      if (operatorId) askPin();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') next();
    });
    const recent = app.recentOperators();
    replace(
      card,
      h('h1', {}, icon('lock'), t('login.title')),
      app.settings.demoPinsActive ? h('div', { class: 'warn-box', 'data-testid': 'demo-warning' }, icon('warn'), t('login.demoWarning')) : null,
      error ? errorBox(error) : null,
      recent.length
        ? h('div', { class: 'field' }, t('login.recent'), h('div', { class: 'chips' }, ...recent.map((id) => h('button', { class: 'btn', type: 'button', onclick: () => ((operatorId = id), askPin()) }, id))))
        : null,
      h('label', { class: 'field' }, t('login.operatorId'), input),
      h('div', { class: 'row-btns' }, h('button', { class: 'btn primary', type: 'button', 'data-testid': 'login-next', onclick: next }, t('login.next'))),
      h('button', { class: 'btn ghost', type: 'button', onclick: () => app.go('status') }, t('login.statusLink')),
    );
    window.setTimeout(() => input.focus(), 0);
  };

  const askPin = () => {
    pad = new PinPad((pin) => void submit(pin), t('login.submit'));
    replace(
      card,
      h('h1', {}, icon('lock'), t('login.enterPinFor', { id: operatorId })),
      error ? errorBox(error) : null,
      pad.el,
      h('button', { class: 'btn ghost', type: 'button', onclick: () => ((error = null), askId()) }, icon('back'), t('login.back')),
    );
  };

  const submit = async (pin: string) => {
    try {
      const s = await api<Session>('POST', '/api/auth/login', { operatorId, pin });
      error = null;
      app.setSession(s);
      app.continueAfterLogin();
    } catch (err) {
      error = errorText(err);
      askPin();
    }
  };

  askId();
  return {
    el,
    key: (e) => pad?.key(e) ?? false,
  };
}

/** Over a screen that needs a login when the session locked itself after inactivity. */
export function lockLayer(app: App): HTMLElement {
  const s = app.session;
  const card = h('div', { class: 'card', 'data-testid': 'lock-screen' });
  let error: string | null = null;
  const pad = new PinPad((pin) => void unlock(pin), t('lock.unlock'));
  const render = () => {
    const others = app.outbox.unsent().filter((d) => d.operatorId === s?.operatorId);
    replace(
      card,
      h('h1', {}, icon('lock'), t('lock.title')),
      h('p', {}, t('lock.detail', { name: s?.name ?? '', id: s?.operatorId ?? '' })),
      error ? errorBox(error) : null,
      pad.el,
      others.length ? h('div', { class: 'warn-box' }, icon('upload'), tn('lock.pendingOther', others.length, { id: s?.operatorId ?? '' })) : null,
      h('button', { class: 'btn', type: 'button', 'data-testid': 'switch-operator', onclick: () => void app.logout() }, t('lock.switch')),
    );
  };
  const unlock = async (pin: string) => {
    try {
      const next = await api<Session>('POST', '/api/auth/unlock', { pin });
      app.setSession(next);
    } catch (err) {
      error = err instanceof ApiError && err.code === 'LOUPE_ERR_AUTH_INVALID' ? t('lock.wrongPin') : errorText(err);
      if (err instanceof ApiError && err.code === 'LOUPE_ERR_AUTH_REQUIRED') return app.setSession(null);
      pad.clear();
      render();
    }
  };
  render();
  const layer = h('div', { class: 'lock-layer' }, h('div', { class: 'center' }, card));
  layer.addEventListener('keydown', (e) => {
    if (pad.key(e)) e.preventDefault();
  });
  layer.tabIndex = -1;
  window.setTimeout(() => layer.focus(), 0);
  return layer;
}
