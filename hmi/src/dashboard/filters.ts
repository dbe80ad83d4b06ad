import { h } from '../dom.js';
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
const any = (list: string[]): [string, string][] => [['', 'all'], ...list.map((v): [string, string] => [v, v])];

/** The filter bar; `apply` gets the new state when the engineer applies or resets. */
export function filterBar(state: FilterState, facets: Facets, apply: (s: FilterState) => void): HTMLFormElement {
  const form = h(
    'form',
    { class: 'filters', 'data-testid': 'filters' },
    input('from', 'From', state.from, { type: 'date' }),
    input('to', 'To (incl.)', state.to, { type: 'date' }),
    select('station', 'Station', state.station, any(facets.stations)),
    select('verdict', 'Verdict', state.verdict, any(['pass', 'fail', 'review'])),
    select('decidedBy', 'Decided by', state.decidedBy, any(['model', 'operator', 'timeout'])),
    select('defectClass', 'Defect class', state.defectClass, any(facets.defectClasses)),
    select('modelVersion', 'Model version', state.modelVersion, any(facets.modelVersions)),
    input('scoreMin', 'Score ≥', state.scoreMin, { type: 'number', min: '0', max: '1', step: '0.01', placeholder: '0' }),
    input('scoreMax', 'Score ≤', state.scoreMax, { type: 'number', min: '0', max: '1', step: '0.01', placeholder: '1' }),
    input('partIdPrefix', 'Part id starts with', state.partIdPrefix, { type: 'text', spellcheck: 'false' }),
    select('reviewed', 'Judged by a person', state.reviewed, [['', 'any'], ['true', 'yes'], ['false', 'no']]),
    select('overridden', 'Model overridden', state.overridden, [['', 'any'], ['true', 'yes'], ['false', 'no']]),
    select('audit', 'Audit sample', state.audit, [['', 'any'], ['true', 'yes'], ['false', 'no']]),
    select('by', 'Charts per', state.by, [['hour', 'hour'], ['shift', 'shift'], ['day', 'day']]),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'apply' }, 'Apply'), h('button', { type: 'reset', class: 'btn' }, 'Reset')),
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
