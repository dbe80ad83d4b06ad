import { api, ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { num, percent } from '../format.js';
import { initLanguage, language, locale, setLanguage, t, tn } from '../i18n/index.js';
import { loadSettings } from '../settings.js';
import type { Session } from '../types.js';
import { confusionTable, paretoChart, pChart, yieldChart } from './charts.js';
import { PartDialog } from './detail.js';
import { ModelsPanel } from './models.js';
import { apiQuery, filterBar, readState, stateToSearch, type FilterState } from './filters.js';
import { currentSession, loginForm } from './session.js';
import { InspectionTable } from './table.js';
import type { Confusion, Escapes, Facets, Pareto, PChart, Proportion, Summary, YieldSeries } from './types.js';

/**
 * The engineer dashboard (/dashboard): yield, first-pass yield, Pareto,
 * p-chart, confusion matrix and escape estimate for a filter, the matching
 * inspections with thumbnails, one part with its overlay, exports, and each
 * station's models (promote and roll back, models.ts).
 * Everything comes from the engineer API with the HMI session cookie.
 */
const root = document.getElementById('dashboard') as HTMLElement;

/** Any user action keeps the session from the idle lock (at most one call per 30 s). */
let lastActivity = 0;
const activity = () => {
  if (Date.now() - lastActivity < 30_000) return;
  lastActivity = Date.now();
  void api('POST', '/api/auth/activity').catch(() => undefined);
};

async function boot(): Promise<void> {
  const fromUrl = new URLSearchParams(location.search).get('lang');
  // Like the HMI: the browser's language until the gateway answers, then its default.
  initLanguage(navigator.language.toLowerCase().startsWith('de') ? 'de' : 'en', fromUrl);
  const settings = await loadSettings(root);
  initLanguage(settings.language, fromUrl);
  document.title = `${t('app.name')} · ${t('dash.title')}`;
  for (;;) {
    const session = await currentSession();
    if (session && !session.locked) {
      if (session.role === 'operator') return denied(session);
      return dashboard(session);
    }
    await loginForm(root, session);
  }
}

function denied(s: Session): void {
  replace(
    root,
    h(
      'div',
      { class: 'center' },
      h(
        'div',
        { class: 'login panel', 'data-testid': 'dash-denied' },
        h('h1', {}, t('dash.title')),
        h('p', {}, t('dash.denied', { name: s.name, id: s.operatorId })),
        h('button', { class: 'btn', type: 'button', onclick: () => void api('POST', '/api/auth/logout').then(() => location.reload()) }, t('nav.logout')),
        h('a', { class: 'btn', href: '/review' }, t('dash.backToHmi')),
      ),
    ),
  );
}

const kpi = (label: string, p: Proportion, testId: string, hint: string) =>
  h(
    'div',
    { class: 'kpi', 'data-testid': testId, title: hint },
    h('span', { class: 'label' }, label),
    h('b', {}, percent(p.value, 2)),
    h('small', {}, p.ci ? t('dash.kpi.ofParts', { x: num(p.x), n: num(p.n), lower: percent(p.ci.lower, 2), upper: percent(p.ci.upper, 2) }) : t('dash.kpi.noParts')),
  );

function escapeCard(e: Escapes): HTMLElement {
  const x = e.escapes;
  const ppm = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${num(Math.round(v * 1e6))} ppm`);
  const rate = t('dash.kpi.escapesRate', { x: num(x.rate.x), n: num(x.rate.n), share: percent(x.rate.value, 2), lower: percent(x.rate.ci?.lower ?? null, 2), upper: percent(x.rate.ci?.upper ?? null, 2) });
  const expected = t('dash.kpi.escapesExpected', { expected: x.expected.value === null ? '–' : num(x.expected.value, 1), unchecked: num(x.unchecked) });
  return h(
    'div',
    { class: 'kpi wide', 'data-testid': 'kpi-escapes', title: t('dash.kpi.escapesHint') },
    h('span', { class: 'label' }, t('dash.kpi.escapes')),
    h('b', {}, ppm(x.perShipped.value)),
    h(
      'small',
      {},
      [rate, expected, x.perShipped.ci ? t('dash.kpi.escapesUpTo', { ppm: ppm(x.perShipped.ci.upper) }) : null, x.unjudgedSamples ? tn('dash.kpi.unjudged', x.unjudgedSamples, { count: num(x.unjudgedSamples) }) : null]
        .filter((part) => part !== null)
        .join(' · '),
    ),
  );
}

/** The choice is stored; drop a `?lang=` from the address, or it would win again after the reload. */
function switchLanguage(): void {
  setLanguage(language() === 'en' ? 'de' : 'en');
  const url = new URL(location.href);
  url.searchParams.delete('lang');
  location.replace(url);
}

async function dashboard(session: Session): Promise<void> {
  const facets = await api<Facets>('GET', '/api/inspections/facets');
  const zone = facets.timeZone;
  const timeFmt = new Intl.DateTimeFormat(locale(), { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const fmtTime = (iso: string) => timeFmt.format(new Date(iso));
  const dialog = new PartDialog(fmtTime);
  const table = new InspectionTable(fmtTime, (row) => void dialog.show(row.id).catch(showError));
  const models = new ModelsPanel(fmtTime, showError);
  const kpis = h('section', { class: 'kpis', 'data-testid': 'kpis' });
  const charts = {
    yield: h('section', { class: 'panel', 'data-testid': 'chart-yield' }),
    pchart: h('section', { class: 'panel', 'data-testid': 'chart-pchart' }),
    pareto: h('section', { class: 'panel', 'data-testid': 'chart-pareto' }),
    confusion: h('section', { class: 'panel confusion-panel', 'data-testid': 'chart-confusion' }),
  };
  const exports = h('div', { class: 'exports', 'data-testid': 'exports' });
  const errorSlot = h('div', { class: 'error-slot' });
  let state = readState(location.search);
  const filtersSlot = h('div', {});

  replace(
    root,
    h(
      'header',
      { class: 'topbar' },
      h('div', { class: 'brand' }, t('app.name').toUpperCase(), h('small', {}, t('dash.brand'))),
      h('nav', {}, h('a', { class: 'btn', href: '/status' }, t('nav.status')), h('a', { class: 'btn', href: '/api/docs', target: '_blank', rel: 'noopener' }, 'API')),
      h('div', { class: 'spacer' }),
      h('span', { class: 'muted' }, t('dash.timeZone', { zone })),
      h('div', { class: 'who', 'data-testid': 'dash-who' }, h('b', {}, session.name), h('small', {}, `${session.operatorId} · ${t(`role.${session.role}`)}`)),
      // Labelled with the language it switches to (nav.language), so its own `lang` is that one.
      h('button', { class: 'btn', type: 'button', lang: language() === 'en' ? 'de' : 'en', 'data-testid': 'dash-lang', onclick: switchLanguage }, t('nav.language')),
      h('button', { class: 'btn', type: 'button', onclick: () => void api('POST', '/api/auth/logout').then(() => location.reload()) }, t('nav.logout')),
    ),
    h('main', { class: 'dash' }, filtersSlot, exports, errorSlot, kpis, h('div', { class: 'grid' }, charts.yield, charts.pchart, charts.pareto, charts.confusion), models.el, table.el, dialog.el),
  );
  root.addEventListener('pointerdown', activity);
  root.addEventListener('keydown', activity);

  let last: { series: YieldSeries; pchart: PChart; pareto: Pareto; confusion: Confusion } | null = null;
  const drawCharts = () => {
    if (!last) return;
    const w = (el: HTMLElement) => Math.max(320, el.clientWidth - 24);
    const title = (text: string, sub: string) => h('header', {}, h('h2', {}, text), h('span', { class: 'muted' }, sub));
    const by = t(`dash.by.${last.series.by}`);
    replace(charts.yield, title(t('dash.chart.yield', { by }), t('dash.chart.yieldSub')), yieldChart(last.series, w(charts.yield)));
    replace(charts.pchart, title(t('dash.chart.pchart', { by }), t('dash.chart.pchartSub')), pChart(last.pchart, w(charts.pchart)));
    replace(charts.pareto, title(t('dash.chart.pareto'), t('dash.chart.paretoSub')), paretoChart(last.pareto, w(charts.pareto)));
    replace(charts.confusion, title(t('dash.chart.confusion'), t('dash.chart.confusionSub')), confusionTable(last.confusion));
  };
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(drawCharts, 150);
  });

  function showError(err: unknown): void {
    if (err instanceof ApiError && err.status === 401) {
      location.reload();
      return;
    }
    replace(errorSlot, h('div', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err)));
  }

  const load = async (next: FilterState) => {
    state = next;
    history.replaceState(null, '', `/dashboard${stateToSearch(state)}`);
    replace(filtersSlot, filterBar(state, facets, (s) => void load(s)));
    replace(errorSlot);
    const q = apiQuery(state);
    const qs = q.toString();
    const withBy = `${qs ? `${qs}&` : ''}by=${state.by}`;
    // Plain links: the browser downloads the stream as it comes, with its own progress.
    const link = (label: string, path: string, testId: string, extra = '') => {
      const query = [qs, extra].filter(Boolean).join('&');
      return h('a', { class: 'btn', href: `${path}${query ? `?${query}` : ''}`, download: '', 'data-testid': testId }, label);
    };
    replace(
      exports,
      h('span', { class: 'muted' }, t('dash.export')),
      link('CSV', '/api/exports/inspections.csv', 'export-csv'),
      link('CSV (;)', '/api/exports/inspections.csv', 'export-csv-semicolon', 'delimiter=semicolon'),
      link('NDJSON', '/api/exports/inspections.ndjson', 'export-ndjson'),
      link(t('dash.export.zip'), '/api/exports/inspections.zip', 'export-zip'),
    );
    try {
      const [summary, series, pchart, pareto, confusion, escapes] = await Promise.all([
        api<Summary>('GET', `/api/stats/summary?${qs}`),
        api<YieldSeries>('GET', `/api/stats/yield?${withBy}`),
        api<PChart>('GET', `/api/stats/p-chart?${withBy}`),
        api<Pareto>('GET', `/api/stats/pareto?${qs}`),
        api<Confusion>('GET', `/api/stats/confusion?${qs}`),
        api<Escapes>('GET', `/api/stats/escapes?${qs}`),
      ]);
      const c = summary.counts;
      replace(
        kpis,
        h(
          'div',
          { class: 'kpi', 'data-testid': 'kpi-inspected' },
          h('span', { class: 'label' }, t('dash.kpi.inspected')),
          h('b', {}, num(c.inspected)),
          h('small', {}, t('dash.kpi.counts', { pass: num(c.passed), fail: num(c.failed), pending: num(c.pending), errors: num(c.errors) })),
        ),
        kpi(t('dash.kpi.yield'), summary.rates.yield, 'kpi-yield', t('dash.kpi.yieldHint')),
        kpi(t('dash.kpi.fpy'), summary.rates.firstPassYield, 'kpi-fpy', t('dash.kpi.fpyHint')),
        kpi(t('dash.kpi.review'), summary.rates.reviewRate, 'kpi-review', t('dash.kpi.reviewHint')),
        kpi(t('dash.kpi.override'), summary.rates.overrideRate, 'kpi-override', t('dash.kpi.overrideHint')),
        escapeCard(escapes),
      );
      last = { series, pchart, pareto, confusion };
      drawCharts();
      await table.load(q);
    } catch (err) {
      showError(err);
    }
  };
  void models.load();
  await load(state);
}

void boot().catch((err: unknown) => replace(root, h('div', { class: 'center' }, h('p', { class: 'error' }, t('dash.startFailed', { message: err instanceof Error ? err.message : String(err) })))));
