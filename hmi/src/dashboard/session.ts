import { api, ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { t } from '../i18n/index.js';
import type { Session } from '../types.js';

/** The session behind this browser, or null when nobody is logged in (a locked session comes back with `locked`). */
export async function currentSession(): Promise<Session | null> {
  try {
    return await api<Session>('GET', '/api/auth/session');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

const message = (err: unknown) =>
  err instanceof ApiError
    ? err.code === 'LOUPE_ERR_AUTH_INVALID'
      ? t('dash.login.invalid')
      : err.code === 'LOUPE_ERR_AUTH_LOCKED_OUT'
        ? t('dash.login.lockedOut', { seconds: String(err.details.retryAfterS ?? 60) })
        : err.message
    : String(err);

/**
 * Log in (or unlock a locked session) with the same ids and PINs as the HMI:
 * a keyboard form, since engineers sit at a desk. Resolves once it worked.
 */
export function loginForm(root: HTMLElement, locked: Session | null): Promise<void> {
  return new Promise((resolve) => {
    const id = h('input', { name: 'operatorId', autocomplete: 'username', value: locked?.operatorId ?? '', disabled: locked !== null, 'data-testid': 'dash-id' });
    const pin = h('input', { name: 'pin', type: 'password', inputmode: 'numeric', autocomplete: 'current-password', 'data-testid': 'dash-pin' });
    const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'dash-login-error' });
    const form = h(
      'form',
      { class: 'login panel', 'data-testid': 'dash-login' },
      h('h1', {}, locked ? t('dash.login.locked') : t('dash.title')),
      h('p', { class: 'muted' }, locked ? t('dash.login.lockedIntro', { name: locked.name }) : t('dash.login.intro')),
      h('label', { class: 'field' }, t('dash.login.id'), id),
      h('label', { class: 'field' }, t('login.pin'), pin),
      error,
      h('button', { class: 'btn primary', type: 'submit', 'data-testid': 'dash-login-submit' }, locked ? t('lock.unlock') : t('nav.login')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const done = locked ? api('POST', '/api/auth/unlock', { pin: pin.value }) : api('POST', '/api/auth/login', { operatorId: id.value.trim(), pin: pin.value });
      done.then(
        () => resolve(),
        (err: unknown) => {
          error.textContent = message(err);
          pin.value = '';
          pin.focus();
        },
      );
    });
    replace(root, h('div', { class: 'center' }, form));
    window.setTimeout(() => (locked ? pin : id).focus(), 0);
  });
}
