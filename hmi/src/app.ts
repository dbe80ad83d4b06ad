import { api, ApiError } from './api.js';
import type { DecisionOutbox } from './decisions.js';
import { h, replace } from './dom.js';
import { clock } from './format.js';
import { language, onLanguageChange, setLanguage, t, tn, type MessageKey } from './i18n/index.js';
import { icon } from './icons.js';
import type { Live } from './live.js';
import type { HmiSettings, Session } from './types.js';

export type ScreenName = 'login' | 'review' | 'status' | 'users';

export interface Screen {
  el: HTMLElement;
  destroy?(): void;
  /** Keyboard / foot pedal; true when the key was used. */
  key?(e: KeyboardEvent): boolean;
}

export type ScreenFactory = (app: App) => Screen;

const NEEDS_LOGIN: Record<ScreenName, boolean> = { login: false, review: true, status: false, users: true };

function needsLogin(name: ScreenName, settings: HmiSettings): boolean {
  return name === 'status' ? !settings.publicStatus : NEEDS_LOGIN[name];
}
/** Activity reaches the gateway at most this often (it keeps the server's idle lock in step). */
const ACTIVITY_PING_MS = 20_000;

/**
 * The shell around the screens: top bar, connection banner, session and idle
 * lock, and the screen in the middle. Screens get the app and nothing global.
 */
export class App {
  session: Session | null = null;
  screenName: ScreenName = 'review';
  station: string | null;
  private screen: Screen | null = null;
  private readonly top = h('header', { class: 'topbar' });
  private readonly bannerSlot = h('div', { class: 'banner-slot' });
  private readonly view = h('main', { class: 'view' });
  private readonly lockSlot = h('div');
  private lastActivity = Date.now();
  private lastPing = 0;
  private restoredUntil = 0;
  private next: ScreenName = 'review';
  private readonly sessionListeners = new Set<() => void>();

  constructor(
    readonly root: HTMLElement,
    readonly settings: HmiSettings,
    readonly live: Live,
    readonly outbox: DecisionOutbox,
    private readonly screens: Record<ScreenName, ScreenFactory>,
    readonly kiosk: boolean,
    station: string | null,
    private readonly lockScreen: (app: App) => HTMLElement,
  ) {
    this.station = station;
    root.replaceChildren(this.top, this.bannerSlot, this.view, this.lockSlot);
    if (kiosk) {
      document.body.classList.add('kiosk');
      if (settings.kiosk.hideCursor) document.body.classList.add('hide-cursor');
      document.addEventListener('contextmenu', (e) => e.preventDefault());
    }
    for (const ev of ['pointerdown', 'keydown', 'wheel']) document.addEventListener(ev, () => this.activity(), { passive: true, capture: true });
    document.addEventListener('keydown', (e) => this.onKey(e));
    window.setInterval(() => this.checkIdle(), 1000);
    window.setInterval(() => this.renderBanner(), 1000);
    let wasOffline = false;
    live.on('state', (s) => {
      if (s === 'offline') wasOffline = true;
      if (s === 'online' && wasOffline) {
        wasOffline = false;
        this.restoredUntil = Date.now() + 4000;
      }
      this.renderBanner();
      this.renderTop();
    });
    live.on('auth', () => void this.refreshSession());
    live.on('restarted', () => void this.refreshSession());
    outbox.onChange(() => this.renderBanner());
    onLanguageChange(() => this.rerender());
  }

  async start(screen: ScreenName): Promise<void> {
    await this.refreshSession(false);
    this.reconnect();
    this.go(screen);
  }

  /** The live feed: always for a logged-in panel, without a login only where the status is public. */
  private reconnect(): void {
    if (this.session || this.settings.publicStatus) this.live.connect(this.station);
    else this.live.disconnect();
  }

  onSessionChange(fn: () => void): () => void {
    this.sessionListeners.add(fn);
    return () => this.sessionListeners.delete(fn);
  }

  go(name: ScreenName): void {
    if (needsLogin(name, this.settings) && !this.session) {
      this.next = name;
      name = 'login';
    }
    if (name === 'users' && this.session?.role !== 'admin') name = 'review';
    this.screenName = name;
    this.updateUrl();
    this.screen?.destroy?.();
    this.screen = this.screens[name](this);
    replace(this.view, this.screen.el);
    this.renderTop();
    this.renderBanner();
    this.renderLock();
  }

  /** After login: the screen the operator wanted. */
  continueAfterLogin(): void {
    this.go(this.next === 'login' ? 'review' : this.next);
  }

  setStation(station: string | null): void {
    this.station = station;
    this.reconnect();
    this.go(this.screenName);
  }

  async refreshSession(reconnect = true): Promise<void> {
    let s: Session | null = null;
    try {
      s = await api<Session>('GET', '/api/auth/session');
    } catch (err) {
      if (err instanceof ApiError && err.offline) return; // keep what we know until the gateway answers
      s = null;
    }
    this.setSession(s, reconnect);
  }

  setSession(s: Session | null, reconnect = true): void {
    const changed = JSON.stringify([s?.operatorId, s?.locked]) !== JSON.stringify([this.session?.operatorId, this.session?.locked]);
    this.session = s;
    this.outbox.setOperator(s && !s.locked ? s.operatorId : null);
    if (s) this.rememberOperator(s.operatorId);
    if (!changed) return;
    if (reconnect) this.reconnect();
    this.sessionListeners.forEach((l) => l());
    if (!s && needsLogin(this.screenName, this.settings)) this.go(this.screenName);
    else {
      this.renderTop();
      this.renderLock();
    }
  }

  async lock(): Promise<void> {
    if (!this.session || this.session.locked) return;
    // Nothing sits in the undo window while nobody watches: send it now, then lock.
    this.outbox.releaseHeld();
    await this.outbox.settled(3000);
    await api('POST', '/api/auth/lock').catch(() => undefined);
    this.setSession({ ...this.session, locked: true });
  }

  async logout(): Promise<void> {
    this.outbox.releaseHeld();
    await this.outbox.settled(3000);
    await api('POST', '/api/auth/logout').catch(() => undefined);
    this.setSession(null);
    this.go('login');
  }

  recentOperators(): string[] {
    try {
      const v = JSON.parse(localStorage.getItem('loupe.recentOperators') ?? '[]') as unknown;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  toast(text: string): void {
    const el = h('div', { class: 'toast', role: 'status' }, text);
    document.body.append(el);
    window.setTimeout(() => el.remove(), 3500);
  }

  private rememberOperator(id: string): void {
    const list = [id, ...this.recentOperators().filter((x) => x !== id)].slice(0, 6);
    localStorage.setItem('loupe.recentOperators', JSON.stringify(list));
  }

  private activity(): void {
    this.lastActivity = Date.now();
    const s = this.session;
    if (s && !s.locked && Date.now() - this.lastPing > Math.min(ACTIVITY_PING_MS, s.idleLockMs / 4)) {
      this.lastPing = Date.now();
      api('POST', '/api/auth/activity').catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) void this.refreshSession();
      });
    }
  }

  private checkIdle(): void {
    const s = this.session;
    if (s && !s.locked && Date.now() - this.lastActivity > s.idleLockMs) void this.lock();
  }

  private onKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    const target = e.target as HTMLElement | null;
    const typing = target?.tagName === 'INPUT' || target?.tagName === 'TEXTAREA' || target?.tagName === 'SELECT';
    if (typing && e.key !== 'Escape' && e.key !== 'Enter') return;
    if (this.lockSlot.firstChild) return; // the lock screen's PIN pad has its own keys
    if (this.screen?.key?.(e)) e.preventDefault();
  }

  private updateUrl(): void {
    const p = new URLSearchParams();
    let path: string;
    if (this.kiosk) {
      path = '/kiosk';
      p.set('screen', this.screenName === 'login' ? this.next : this.screenName);
      if (this.station) p.set('station', this.station);
    } else {
      path = `/${this.screenName}`;
      if (this.station && this.screenName === 'review') p.set('station', this.station);
    }
    const q = p.toString();
    history.replaceState(null, '', `${path}${q ? `?${q}` : ''}`);
  }

  private rerender(): void {
    this.go(this.screenName);
  }

  renderTop(): void {
    const s = this.session;
    const navBtn = (name: ScreenName, key: MessageKey) =>
      h('button', { class: `btn${this.screenName === name ? ' pressed' : ''}`, type: 'button', 'data-nav': name, onclick: () => this.go(name) }, t(key));
    const conn = this.live.state;
    const stations = this.settings.stations;
    replace(
      this.top,
      h('div', { class: 'brand' }, t('app.name').toUpperCase(), h('small', {}, this.settings.origin.line)),
      h(
        'nav',
        {},
        navBtn('review', 'nav.review'),
        navBtn('status', 'nav.status'),
        s?.role === 'admin' && !this.kiosk ? navBtn('users', 'nav.users') : null,
        (s?.role === 'engineer' || s?.role === 'admin') && !this.kiosk ? h('a', { class: 'btn', href: '/dashboard', 'data-nav': 'dashboard' }, 'Dashboard') : null,
      ),
      this.screenName === 'review' && stations.length > 1 && !(this.kiosk && this.station)
        ? h(
            'select',
            { 'aria-label': t('review.station'), onchange: (e: Event) => this.setStation((e.target as HTMLSelectElement).value || null) },
            h('option', { value: '', selected: this.station === null }, t('review.selectStation')),
            ...stations.map((st) => h('option', { value: st.id, selected: this.station === st.id }, st.name)),
          )
        : null,
      h('div', { class: 'spacer' }),
      conn === 'idle' ? null : this.connIndicator(conn),
      s ? h('div', { class: 'who', 'data-testid': 'who' }, h('b', {}, s.name), h('small', {}, `${s.operatorId} · ${t(`role.${s.role}`)}`)) : null,
      h('button', { class: 'btn', type: 'button', 'aria-label': t('nav.language'), 'data-testid': 'lang', onclick: () => setLanguage(language() === 'en' ? 'de' : 'en') }, t('nav.languageShort')),
      s && !s.locked ? h('button', { class: 'btn', type: 'button', 'data-testid': 'lock', onclick: () => void this.lock() }, icon('lock'), t('nav.lock')) : null,
      s
        ? h('button', { class: 'btn', type: 'button', 'data-testid': 'logout', onclick: () => void this.logout() }, t('nav.logout'))
        : this.screenName !== 'login'
          ? h('button', { class: 'btn', type: 'button', onclick: () => ((this.next = this.screenName === 'status' ? 'review' : this.screenName), this.go('login')) }, t('nav.login'))
          : null,
    );
  }

  private connIndicator(conn: 'connecting' | 'online' | 'offline'): HTMLElement {
    return h(
      'span',
      { class: 'conn-dot', 'data-testid': 'conn-state', 'data-state': conn },
      icon(conn === 'online' ? 'check' : conn === 'offline' ? 'offline' : 'spinner', conn === 'connecting' ? 'spin' : ''),
      t(conn === 'online' ? 'conn.online' : conn === 'offline' ? 'conn.offline' : 'conn.connecting'),
    );
  }

  renderBanner(): void {
    const unsent = this.outbox.unsent().filter((d) => d.status !== 'held').length;
    if (this.live.state === 'offline') {
      const last = this.live.lastContact ? t('conn.lastContact', { time: clock(this.live.lastContact) }) : '';
      replace(
        this.bannerSlot,
        h(
          'div',
          { class: 'banner offline', role: 'alert', 'data-testid': 'offline-banner' },
          icon('offline'),
          h('div', {}, t('conn.lost').toUpperCase(), h('small', {}, `${t('conn.lostDetail')} ${last}`)),
          unsent > 0 ? h('div', { 'data-testid': 'unsent-count' }, tn('conn.waiting', unsent)) : null,
        ),
      );
    } else if (Date.now() < this.restoredUntil) {
      replace(this.bannerSlot, h('div', { class: 'banner restored', role: 'status' }, icon('check'), t('conn.restored'), unsent > 0 ? h('small', {}, tn('conn.waiting', unsent)) : null));
    } else {
      this.bannerSlot.replaceChildren();
    }
  }

  renderLock(): void {
    const locked = !!this.session?.locked && needsLogin(this.screenName, this.settings);
    if (!locked) {
      this.lockSlot.replaceChildren();
      return;
    }
    replace(this.lockSlot, this.lockScreen(this));
  }
}
