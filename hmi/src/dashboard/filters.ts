import { h } from '../dom.js';
import { className, t, verdictWord } from '../i18n/index.js';
import type { Facets } from './types.js';

/** What the engineer selected; kept in the page's URL so a view can be bookmarked or sent on. */
export interface FilterState {
  /** Local dates in the plant's time zone, `to` inclusive. */
  from: string;
  to: string;
  station: string;
  verdict: string;
  decidedBy: string;
  defectClass: string;
  modelVersion: string;
  scoreMin: string;
  scoreMax: string;
  partIdPrefix: string;
  reviewed: string;
  overridden: string;
  audit: string;
  /** Bucket of the charts. */
  by: 'hour' | 'shift' | 'day';
}

const KEYS: (keyof FilterState)[] = ['from', 'to', 'station', 'verdict', 'decidedBy', 'defectClass', 'modelVersion', 'scoreMin', 'scoreMax', 'partIdPrefix', 'reviewed', 'overridden', 'audit', 'by'];

export function readState(search: string): FilterState {
  const q = new URLSearchParams(search);
  const state = Object.fromEntries(KEYS.map((k) => [k, q.get(k) ?? ''])) as unknown as FilterState;
  if (!['hour', 'shift', 'day'].includes(state.by)) state.by = 'hour';
  return state;
}

export function stateToSearch(s: FilterState): string {
  const q = new URLSearchParams();
  for (const k of KEYS) if (s[k] && !(k === 'by' && s.by === 'hour')) q.set(k, s[k]);
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** The API's query for a state: the inclusive `to` date becomes the next day's midnight. */
export function apiQuery(s: FilterState): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of KEYS) {
    const v = s[k].trim();
    if (!v || k === 'by') continue;
    if (k === 'to') {
      const d = new Date(`${v}T12:00:00Z`);
      d.setUTCDate(d.getUTCDate() + 1);
      q.set('to', d.toISOString().slice(0, 10));
    } else q.set(k, v);
  }
  return q;
}

const select = (name: keyof FilterState, label: string, value: string, options: [string, string][]) =>
  h(
    'label',
    { class: 'field' },
    label,
    h('select', { name, 'data-testid': `filter-${name}` }, ...options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))),
  );
const input = (name: keyof FilterState, label: string, value: string, attrs: Record<string, string> = {}) =>
  h('label', { class: 'field' }, label, h('input', { name, value, 'data-testid': `filter-${name}`, ...attrs }));
/** `all`, then each value as the page shows it (ids stay as they are). */
const any = <T extends string>(list: readonly T[], word: (v: T) => string = (v) => v): [string, string][] => [['', t('dash.filter.all')], ...list.map((v): [string, string] => [v, word(v)])];
const yesNo = (): [string, string][] => [
  ['', t('dash.filter.any')],
  ['true', t('dash.filter.yes')],
  ['false', t('dash.filter.no')],
];

/** The filter bar; `apply` gets the new state when the engineer applies or resets. */
export function filterBar(state: FilterState, facets: Facets, apply: (s: FilterState) => void): HTMLFormElement {
  const form = h(
    'form',
    { class: 'filters', 'data-testid': 'filters' },
    input('from', t('dash.filter.from'), state.from, { type: 'date' }),
    input('to', t('dash.filter.to'), state.to, { type: 'date' }),
    select('station', t('dash.filter.station'), state.station, any(facets.stations)),
    select('verdict', t('dash.filter.verdict'), state.verdict, any(['pass', 'fail', 'review'] as const, verdictWord)),
    select('decidedBy', t('dash.filter.decidedBy'), state.decidedBy, any(['model', 'operator', 'timeout'] as const, (v) => t(`decidedBy.${v}`))),
    select('defectClass', t('dash.filter.defectClass'), state.defectClass, any(facets.defectClasses, className)),
    select('modelVersion', t('dash.filter.modelVersion'), state.modelVersion, any(facets.modelVersions)),
    input('scoreMin', t('dash.filter.scoreMin'), state.scoreMin, { type: 'number', min: '0', max: '1', step: '0.01', placeholder: '0' }),
    input('scoreMax', t('dash.filter.scoreMax'), state.scoreMax, { type: 'number', min: '0', max: '1', step: '0.01', placeholder: '1' }),
    input('partIdPrefix', t('dash.filter.partIdPrefix'), state.partIdPrefix, { type: 'text', spellcheck: 'false' }),
    select('reviewed', t('dash.filter.reviewed'), state.reviewed, yesNo()),
    select('overridden', t('dash.filter.overridden'), state.overridden, yesNo()),
    select('audit', t('dash.filter.audit'), state.audit, yesNo()),
    select('by', t('dash.filter.by'), state.by, (['hour', 'shift', 'day'] as const).map((by): [string, string] => [by, t(`dash.by.${by}`)])),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'apply' }, t('dash.filter.apply')),
      h('button', { type: 'reset', class: 'btn' }, t('dash.filter.reset')),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    apply(readState(`?${new URLSearchParams([...data.entries()].map(([k, v]) => [k, String(v)])).toString()}`));
  });
  form.addEventListener('reset', (e) => {
    e.preventDefault();
    apply(readState(''));
  });
  // Choosing from a list applies at once; typed fields wait for Apply (or Enter).
  form.addEventListener('change', (e) => {
    if ((e.target as HTMLElement).tagName === 'SELECT') form.requestSubmit();
  });
  return form;
}
