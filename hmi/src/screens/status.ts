import type { App, Screen } from '../app.js';
import { h, replace } from '../dom.js';
import { clock, duration, num, percent, shortPart } from '../format.js';
import { className, t, tn, verdictWord, type MessageKey } from '../i18n/index.js';
import { stateIcon } from '../icons.js';
import { thumbnail } from '../thumbs.js';
import type { LineStatus, RecentPart } from '../types.js';

const STATE_KEYS: Record<string, MessageKey> = {
  ok: 'state.ok',
  starting: 'state.starting',
  degraded: 'state.degraded',
  down: 'state.down',
  stopped: 'state.stopped',
  disabled: 'state.disabled',
};

/**
 * Line status at a glance, for the wall or between parts: per station the
 * camera, throughput, model and review backlog; the PLC and uplink links;
 * the shift's yield; the last parts with their images. Every state is an
 * icon and a word on a coloured edge, so colour is never the only signal.
 */
export function statusScreen(app: App): Screen {
  const el = h('div', { class: 'status', 'data-testid': 'status' });
  let last: LineStatus | null = null;

  const tile = (label: string, value: string, opts: { state?: string; detail?: string | null; testid?: string; cls?: string; text?: boolean } = {}) =>
    h(
      'div',
      { class: `tile ${opts.state ?? ''} ${opts.cls ?? ''}`, 'data-testid': opts.testid ?? null, 'data-state': opts.state ?? null },
      h('span', { class: 'label' }, label),
      h('span', { class: `value${opts.text ? ' text' : ''}` }, opts.state ? stateIcon(opts.state) : null, value),
      opts.detail ? h('span', { class: 'detail', title: opts.detail }, opts.detail) : null,
    );
  const stateWord = (s: string) => t(STATE_KEYS[s] ?? 'state.down');

  const render = () => {
    const s = last;
    if (!s) return;
    const shift = s.shift;
    const yieldTile = tile(t('status.shiftYield'), shift.yield === null ? t('status.noYield') : percent(shift.yield), {
      testid: 'shift-yield',
      cls: 'yield',
      detail: `${t('status.since', { time: clock(shift.startedAt, false) })} · ${t('status.shiftCounts', { pass: num(shift.pass), fail: num(shift.fail), review: num(shift.review), error: num(shift.error) })}`,
    });
    const backlog = s.uplinkBacklog;
    const links = h(
      'div',
      { class: 'links' },
      ...s.links.map((l) => tile(l.name.toUpperCase(), stateWord(l.state), { state: l.state, detail: l.detail, testid: `link-${l.name}` })),
      s.links.length === 0 ? tile(t('status.links'), stateWord('disabled'), { state: 'disabled', detail: t('status.noLinks') }) : null,
      tile(t('status.uplinkBacklog'), num(backlog.count), {
        state: backlog.count === 0 ? 'ok' : backlog.oldestAgeMs > 10 * 60_000 ? 'degraded' : 'ok',
        testid: 'uplink-backlog',
        detail: backlog.count === 0 ? t('status.backlogEmpty') : `${tn('status.backlogDetail', backlog.count)}, ${t('status.backlogOldest', { time: duration(backlog.oldestAgeMs) })}`,
      }),
    );
    const stations = s.stations.map((st) => {
      const cam = st.running ? st.camera.state : 'stopped';
      return h(
        'section',
        { class: 'station-card', 'data-testid': `station-${st.id}` },
        h('h2', {}, st.name, h('small', {}, st.lastPartAt ? t('status.lastPart', { time: clock(st.lastPartAt) }) : '')),
        h(
          'div',
          { class: 'tiles' },
          tile(t('status.camera'), stateWord(cam), { state: cam, detail: st.camera.lastError, testid: 'camera' }),
          tile(t('status.framesPerSecond'), num(st.camera.framesPerSecond, 1), { detail: `${t('status.partsPerSecond')} ${num(st.partsPerSecond, 1)}`, testid: 'fps' }),
          tile(t('status.model'), st.model.id, { detail: `${st.model.version} · ${st.model.provider.toUpperCase()}`, testid: 'model', text: true }),
          tile(t('status.reviewWaiting'), num(st.reviewBacklog), { state: st.reviewBacklog > 0 ? 'degraded' : 'ok', testid: 'review-backlog' }),
          tile(t('status.shiftYield'), st.shift.yield === null ? '–' : percent(st.shift.yield), { detail: `${num(st.shift.pass)} / ${num(st.shift.pass + st.shift.fail)}` }),
        ),
      );
    });
    replace(
      el,
      h('div', { class: 'status-top' }, yieldTile, links),
      ...stations,
      h('h2', { class: 'section-title' }, t('status.recent'), ' · ', h('small', {}, t('status.updated', { time: clock(s.at) }))),
      s.recent.length ? h('div', { class: 'strip', 'data-testid': 'recent' }, ...s.recent.map(recentItem)) : h('p', {}, t('status.noRecent')),
    );
  };

  const offs = [
    app.live.on('status', (d) => {
      last = d as LineStatus;
      render();
    }),
    app.live.on('part', (d) => {
      const p = d as RecentPart | null;
      if (!last || !p) return;
      last = { ...last, recent: [p, ...last.recent.filter((r) => r.id !== p.id)].slice(0, 12) };
      render();
    }),
  ];
  replace(el, h('p', {}, t('conn.connecting')));
  return { el, destroy: () => offs.forEach((o) => o()) };
}

function recentItem(p: RecentPart): HTMLElement {
  const v = p.state === 'error' ? 'error' : (p.verdict ?? 'review');
  const by = p.decidedBy && p.decidedBy !== 'model' ? ` · ${t(`decidedBy.${p.decidedBy}`)}` : '';
  return h(
    'div',
    { class: `strip-item ${v}`, 'data-testid': 'recent-part', 'data-verdict': v },
    p.imageUrl ? thumbnail(p.imageUrl, 240, p.partId) : h('div', { class: 'noimg' }),
    h('span', { class: `verdict-tag ${v}` }, stateIcon(v), verdictWord(v)),
    h('small', {}, `${shortPart(p.partId)}${p.defectClass ? ` · ${className(p.defectClass)}` : ''}${by}`),
  );
}

