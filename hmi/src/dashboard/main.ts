import { api, ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import type { Session } from '../types.js';
import { confusionTable, fmtShare, paretoChart, pChart, yieldChart } from './charts.js';
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
        h('h1', {}, 'Engineer dashboard'),
        h('p', {}, `${s.name} (${s.operatorId}) is an operator: the dashboard needs the engineer or admin role.`),
        h('button', { class: 'btn', type: 'button', onclick: () => void api('POST', '/api/auth/logout').then(() => location.reload()) }, 'Log out'),
        h('a', { class: 'btn', href: '/review' }, 'Back to the HMI'),
      ),
    ),
  );
}

const kpi = (label: string, p: Proportion, testId: string, hint: string) =>
  h(
    'div',
    { class: 'kpi', 'data-testid': testId, title: hint },
    h('span', { class: 'label' }, label),
    h('b', {}, fmtShare(p.value, 2)),
    h('small', {}, p.ci ? `${p.x.toLocaleString('en-GB')} of ${p.n.toLocaleString('en-GB')} · 95 % ${fmtShare(p.ci.lower, 2)}–${fmtShare(p.ci.upper, 2)}` : 'no parts'),
  );

function escapeCard(e: Escapes): HTMLElement {
  const x = e.escapes;
  const ppm = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${Math.round(v * 1e6).toLocaleString('en-GB')} ppm`);
  return h(
    'div',
    { class: 'kpi wide', 'data-testid': 'kpi-escapes', title: 'From audit samples of confident passes that a person judged; exact (Clopper-Pearson) 95 % interval' },
    h('span', { class: 'label' }, 'Estimated escapes'),
    h('b', {}, ppm(x.perShipped.value)),
    h(
      'small',
      {},
      `${x.rate.x} defective in ${x.rate.n} audited passes (${fmtShare(x.rate.value, 2)}, 95 % ${fmtShare(x.rate.ci?.lower ?? null, 2)}–${fmtShare(x.rate.ci?.upper ?? null, 2)}) · ` +
        `≈ ${x.expected.value === null ? '–' : x.expected.value.toFixed(1)} of ${x.unchecked.toLocaleString('en-GB')} unchecked passes` +
        `${x.perShipped.ci ? ` · 95 % up to ${ppm(x.perShipped.ci.upper)}` : ''}${x.unjudgedSamples ? ` · ${x.unjudgedSamples} samples not judged` : ''}`,
    ),
  );
}

async function dashboard(session: Session): Promise<void> {
  const facets = await api<Facets>('GET', '/api/inspections/facets');
  const zone = facets.timeZone;
  const timeFmt = new Intl.DateTimeFormat('en-GB', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const fmtTime = (iso: string) => timeFmt.format(new Date(iso));
  const dialog = new PartDialog(fmtTime);
  const table = new InspectionTable(fmtTime, (row) => void dialog.show(row.id).catch(showError));
  const models = new ModelsPanel(fmtTime, showError);
  const kpis = h('section', { class: 'kpis', 'data-testid': 'kpis' });
  const charts = {
    yield: h('section', { class: 'panel', 'data-testid': 'chart-yield' }),
    pchart: h('section', { class: 'panel', 'data-testid': 'chart-pchart' }),
    pareto: h('section', { class: 'panel', 'data-testid': 'chart-pareto' }),
    confusion: h('section', { class: 'panel', 'data-testid': 'chart-confusion' }),
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
      h('div', { class: 'brand' }, 'LOUPE', h('small', {}, 'engineer dashboard')),
      h('nav', {}, h('a', { class: 'btn', href: '/status' }, 'Line status'), h('a', { class: 'btn', href: '/api/docs', target: '_blank', rel: 'noopener' }, 'API')),
      h('div', { class: 'spacer' }),
      h('span', { class: 'muted' }, `times in ${zone}`),
      h('div', { class: 'who', 'data-testid': 'dash-who' }, h('b', {}, session.name), h('small', {}, `${session.operatorId} · ${session.role}`)),
      h('button', { class: 'btn', type: 'button', onclick: () => void api('POST', '/api/auth/logout').then(() => location.reload()) }, 'Log out'),
    ),
    h('main', { class: 'dash' }, filtersSlot, exports, errorSlot, kpis, h('div', { class: 'grid' }, charts.yield, charts.pchart, charts.pareto, charts.confusion), models.el, table.el, dialog.el),
  );
  root.addEventListener('pointerdown', activity);
  root.addEventListener('keydown', activity);

  let last: { series: YieldSeries; pchart: PChart; pareto: Pareto; confusion: Confusion } | null = null;
  const drawCharts = () => {
    if (!last) return;
    const w = (el: HTMLElement) => Math.max(320, el.clientWidth - 24);
    const title = (t: string, sub: string) => h('header', {}, h('h2', {}, t), h('span', { class: 'muted' }, sub));
    replace(charts.yield, title('Yield per ' + last.series.by, 'bars: yield · line: first-pass yield'), yieldChart(last.series, w(charts.yield)));
    replace(charts.pchart, title('p-chart per ' + last.series.by, 'defect fraction with 3σ limits'), pChart(last.pchart, w(charts.pchart)));
    replace(charts.pareto, title('Defect Pareto', 'failed parts by class'), paretoChart(last.pareto, w(charts.pareto)));
    replace(charts.confusion, title('Model against person', 'parts a person judged'), confusionTable(last.confusion));
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
      h('span', { class: 'muted' }, 'Export this selection:'),
      link('CSV', '/api/exports/inspections.csv', 'export-csv'),
      link('CSV (;)', '/api/exports/inspections.csv', 'export-csv-semicolon', 'delimiter=semicolon'),
      link('NDJSON', '/api/exports/inspections.ndjson', 'export-ndjson'),
      link('ZIP with images', '/api/exports/inspections.zip', 'export-zip'),
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
        h('div', { class: 'kpi', 'data-testid': 'kpi-inspected' }, h('span', { class: 'label' }, 'Inspected'), h('b', {}, c.inspected.toLocaleString('en-GB')), h('small', {}, `${c.passed} pass · ${c.failed} fail · ${c.pending} waiting · ${c.errors} no result`)),
        kpi('Yield', summary.rates.yield, 'kpi-yield', 'final passes of all settled parts'),
        kpi('First-pass yield', summary.rates.firstPassYield, 'kpi-fpy', 'passed by the model at once, and not reversed'),
        kpi('Review rate', summary.rates.reviewRate, 'kpi-review', 'parts the model sent to a person'),
        kpi('Override rate', summary.rates.overrideRate, 'kpi-override', 'confident model verdicts a person reversed'),
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

void boot().catch((err: unknown) => replace(root, h('div', { class: 'center' }, h('p', { class: 'error' }, `The dashboard could not start: ${err instanceof Error ? err.message : String(err)}`))));
