import { api, ApiError } from '../api.js';
import type { App, Screen } from '../app.js';
import { h, replace } from '../dom.js';
import { clock } from '../format.js';
import { t } from '../i18n/index.js';
import type { Role, UserView } from '../types.js';

/** Admins add operators, set PINs, and disable people who left. */
export function usersScreen(app: App): Screen {
  const el = h('div', { class: 'users', 'data-testid': 'users' });
  let users: UserView[] = [];

  const fail = (err: unknown) => app.toast(t('users.error', { message: err instanceof ApiError ? err.message : String(err) }));
  const load = async () => {
    try {
      users = await api<UserView[]>('GET', '/api/users');
      render();
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) replace(el, h('p', {}, t('users.forbidden')));
      else fail(err);
    }
  };

  const addForm = () => {
    const id = h('input', { name: 'id', required: true, maxlength: 32, autocapitalize: 'none' });
    const name = h('input', { name: 'name', maxlength: 80 });
    const role = h('select', { name: 'role' }, ...(['operator', 'engineer', 'admin'] as Role[]).map((r) => h('option', { value: r }, t(`role.${r}`))));
    const pin = h('input', { name: 'pin', inputmode: 'numeric', pattern: '\\d{4,12}', required: true, type: 'password', autocomplete: 'new-password' });
    const form = h(
      'form',
      {},
      h('label', {}, t('users.id'), id),
      h('label', {}, t('users.name'), name),
      h('label', {}, t('users.role'), role),
      h('label', {}, t('users.pin'), pin),
      h('button', { class: 'btn primary', type: 'submit' }, t('users.add')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      api('POST', '/api/users', { id: id.value, name: name.value, role: role.value, pin: pin.value }).then(() => (app.toast(t('users.saved')), load()), fail);
    });
    return form;
  };

  const row = (u: UserView) => {
    const state = u.disabled ? t('users.disabled') : u.lockedOut ? `${t('users.lockedOut')} (${clock(u.lockedUntil ?? Date.now(), false)})` : t('users.active');
    const pin = h('input', { inputmode: 'numeric', type: 'password', placeholder: t('users.resetPin'), size: 8, autocomplete: 'new-password' });
    return h(
      'tr',
      { 'data-user': u.id },
      h('td', {}, h('b', {}, u.id)),
      h('td', {}, u.name),
      h('td', {}, t(`role.${u.role}`)),
      h('td', {}, state),
      h('td', {}, u.lastLoginAt ? new Date(u.lastLoginAt).toLocaleString() : t('users.never')),
      h(
        'td',
        {},
        pin,
        ' ',
        h('button', { class: 'btn', type: 'button', onclick: () => api('PUT', `/api/users/${encodeURIComponent(u.id)}/pin`, { pin: pin.value }).then(() => (app.toast(t('users.saved')), load()), fail) }, t('users.setPin')),
        ' ',
        h(
          'button',
          { class: 'btn', type: 'button', onclick: () => api('PATCH', `/api/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled }).then(() => load(), fail) },
          u.disabled ? t('users.enable') : t('users.disable'),
        ),
      ),
    );
  };

  const render = () =>
    replace(
      el,
      h('h1', {}, t('users.title')),
      addForm(),
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ...['users.id', 'users.name', 'users.role', 'users.state', 'users.lastLogin'].map((k) => h('th', {}, t(k as 'users.id'))), h('th', {}))),
        h('tbody', {}, ...users.map(row)),
      ),
    );

  void load();
  return { el };
}
