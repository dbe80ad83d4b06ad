import { h } from '../dom.js';
import { num, percent } from '../format.js';
import { className, t, tn, tOr } from '../i18n/index.js';
import { frame, s, scale, tip, ticks, xLabels, yAxis } from './svg.js';
import type { Bucket, Confusion, Pareto, PChart, YieldSeries } from './types.js';

/** A label the API gives a part as a whole: `good` (no defect, as in the confusion matrix and ground truth) or a defect class. */
export const labelName = (label: string) => (label === 'good' ? t('verdict.pass') : className(label));

/** Short bucket names for an axis: the date part without the year, then hour or shift. */
function short(b: Bucket): string {
  return b.label.replace(/^\d{4}-/, '').replace(/ [+-]\d\d:\d\d$/, '');
}

function empty(text: string): HTMLElement {
  return h('div', { class: 'chart-empty' }, text);
}

/** Yield per bucket as bars, first-pass yield as a line; the y axis starts near the lowest value so changes show. */
export function yieldChart(series: YieldSeries, width: number): Element {
  const points = series.buckets.filter((b) => b.rates.yield.value !== null);
  if (points.length === 0) return empty(t('dash.chart.noSettled'));
  const f = frame(width, 240, t('dash.chart.yieldLabel'));
  const lowest = Math.min(...points.flatMap((b) => [b.rates.yield.value ?? 1, b.rates.firstPassYield.value ?? 1]));
  const lo = Math.max(0, Math.floor((lowest - 0.02) * 20) / 20);
  const y = scale(lo, 1, f.y0, f.y1);
  yAxis(f, y, ticks(lo, 1), (v) => percent(v, 0));
  const band = (f.x1 - f.x0) / points.length;
  const xs = points.map((_, k) => f.x0 + band * (k + 0.5));
  points.forEach((b, k) => {
    const v = b.rates.yield.value ?? 0;
    const ci = b.rates.yield.ci;
    const bar = s('rect', { x: (xs[k] ?? 0) - band * 0.38, width: Math.max(1, band * 0.76), y: y(v), height: Math.max(0, f.y0 - y(v)), class: 'bar yield', 'data-testid': 'yield-bar' });
    const share = t('dash.chart.yieldTip', { share: percent(v, 2), x: num(b.rates.yield.x), n: num(b.rates.yield.n) });
    const interval = ci ? t('dash.chart.ciTip', { lower: percent(ci.lower, 2), upper: percent(ci.upper, 2) }) : '';
    tip(bar, `${b.bucket.label}\n${share}${interval}\n${t('dash.chart.fpyTip', { share: percent(b.rates.firstPassYield.value ?? 0, 2) })}`);
    f.svg.append(bar);
  });
  const line = points.map((b, k) => `${k === 0 ? 'M' : 'L'}${(xs[k] ?? 0).toFixed(1)},${y(b.rates.firstPassYield.value ?? 0).toFixed(1)}`).join('');
  f.svg.append(s('path', { d: line, class: 'line fpy' }));
  xLabels(
    f,
    xs,
    points.map((b) => short(b.bucket)),
    Math.floor((f.x1 - f.x0) / 90),
  );
  return h('figure', { class: 'chart-box' }, f.svg, h('figcaption', {}, h('i', { class: 'key yield' }), `${t('dash.chart.legendYield')} `, h('i', { class: 'key fpy' }), t('dash.chart.legendFpy')));
}

/** p-chart: defect fraction per bucket, centre line, 3-sigma limits per subgroup, points out of control in red. */
export function pChart(chart: PChart, width: number): Element {
  if (chart.centerLine === null || chart.points.length === 0) return empty(t('dash.chart.noSettled'));
  const f = frame(width, 240, t('dash.chart.pchartLabel'));
  const top = Math.max(...chart.points.flatMap((p) => [p.p, p.ucl])) * 1.08 || 0.01;
  const y = scale(0, top, f.y0, f.y1);
  yAxis(f, y, ticks(0, top), (v) => percent(v, v < 0.1 ? 1 : 0));
  const step = (f.x1 - f.x0) / chart.points.length;
  const xs = chart.points.map((_, k) => f.x0 + step * (k + 0.5));
  const limit = (pick: (p: PChart['points'][number]) => number) =>
    chart.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${((xs[k] ?? 0) - step / 2).toFixed(1)},${y(pick(p)).toFixed(1)}H${((xs[k] ?? 0) + step / 2).toFixed(1)}`).join('');
  f.svg.append(s('path', { d: limit((p) => p.ucl), class: 'limit' }), s('path', { d: limit((p) => p.lcl), class: 'limit' }));
  f.svg.append(s('line', { x1: f.x0, x2: f.x1, y1: y(chart.centerLine), y2: y(chart.centerLine), class: 'center' }));
  f.svg.append(s('path', { d: chart.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${(xs[k] ?? 0).toFixed(1)},${y(p.p).toFixed(1)}`).join(''), class: 'line p' }));
  chart.points.forEach((p, k) => {
    const out = p.flags.length > 0;
    const dot = s('circle', { cx: xs[k] ?? 0, cy: y(p.p), r: out ? 5 : 3, class: out ? 'point out' : 'point', 'data-testid': 'pchart-point', 'data-flags': p.flags.join(' ') });
    const lines = [
      p.bucket.label,
      t('dash.chart.pTip', { defective: num(p.defective), n: num(p.n), share: percent(p.p, 2) }),
      t('dash.chart.limitsTip', { lower: percent(p.lcl, 2), upper: percent(p.ucl, 2) }),
      out ? t('dash.chart.outOfControl', { flags: p.flags.map((flag) => tOr(`dash.flag.${flag}`, flag)).join(', ') }) : null,
      p.smallSample ? t('dash.chart.smallSample') : null,
    ];
    tip(dot, lines.filter((line) => line !== null).join('\n'));
    f.svg.append(dot);
  });
  f.svg.append(s('text', { x: f.x1 - 4, y: y(chart.centerLine) - 5, class: 'tick', 'text-anchor': 'end' }, `p̄ ${percent(chart.centerLine, 2)}`));
  xLabels(
    f,
    xs,
    chart.points.map((p) => short(p.bucket)),
    Math.floor((f.x1 - f.x0) / 90),
  );
  return h(
    'figure',
    { class: 'chart-box' },
    f.svg,
    h(
      'figcaption',
      {},
      h('i', { class: 'key p' }),
      `${t('dash.chart.legendP')} `,
      h('i', { class: 'key limit' }),
      `${t('dash.chart.legendLimits')} `,
      h('i', { class: 'key out' }),
      t('dash.chart.legendOut', { count: num(chart.outOfControl) }),
    ),
  );
}

/** Pareto: failed parts per defect class, biggest first, with the cumulative share on the right axis. */
export function paretoChart(p: Pareto, width: number): Element {
  if (p.total === 0) return empty(t('dash.chart.noFailed'));
  const f = frame(width, 240, t('dash.chart.paretoLabel'));
  const max = Math.max(...p.bars.map((b) => b.count));
  const y = scale(0, max * 1.05, f.y0, f.y1);
  const yc = scale(0, 1, f.y0, f.y1);
  yAxis(f, y, ticks(0, max * 1.05).filter((v) => Number.isInteger(v)), (v) => num(v));
  yAxis(f, yc, [0, 0.2, 0.4, 0.6, 0.8, 1], (v) => percent(v, 0), 'right');
  const band = (f.x1 - f.x0) / p.bars.length;
  const xs = p.bars.map((_, k) => f.x0 + band * (k + 0.5));
  p.bars.forEach((b, k) => {
    const bar = s('rect', { x: (xs[k] ?? 0) - band * 0.35, width: band * 0.7, y: y(b.count), height: f.y0 - y(b.count), class: 'bar fail', 'data-testid': 'pareto-bar', 'data-class': b.defectClass });
    tip(bar, t('dash.chart.paretoTip', { label: className(b.defectClass), count: num(b.count), share: percent(b.share), cumulative: percent(b.cumulativeShare) }));
    f.svg.append(bar);
  });
  f.svg.append(s('line', { x1: f.x0, x2: f.x1, y1: yc(0.8), y2: yc(0.8), class: 'center' }));
  f.svg.append(s('path', { d: p.bars.map((b, k) => `${k === 0 ? 'M' : 'L'}${(xs[k] ?? 0).toFixed(1)},${yc(b.cumulativeShare).toFixed(1)}`).join(''), class: 'line cumulative' }));
  p.bars.forEach((b, k) => f.svg.append(s('circle', { cx: xs[k] ?? 0, cy: yc(b.cumulativeShare), r: 3, class: 'point cumulative' })));
  xLabels(
    f,
    xs,
    p.bars.map((b) => className(b.defectClass)),
    p.bars.length,
  );
  return h('figure', { class: 'chart-box' }, f.svg, h('figcaption', {}, tn('dash.chart.paretoCaption', p.total, { count: num(p.total) })));
}

/** The confusion matrix as a table shaded by share of its row, with precision and recall per class. */
export function confusionTable(c: Confusion): Element {
  if (c.total === 0) return empty(t('dash.chart.noJudged'));
  const recall = new Map(c.perClass.map((k) => [k.label, k]));
  const rows = c.labels.map((m, r) => {
    const sum = (c.matrix[r] ?? []).reduce((a, b) => a + b, 0);
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, labelName(m)),
      ...(c.matrix[r] ?? []).map((n, k) => {
        const td = h('td', { class: r === k ? 'diag' : n > 0 ? 'off' : '', 'data-testid': 'confusion-cell' }, n ? num(n) : '·');
        td.style.setProperty('--heat', String(sum ? n / sum : 0));
        return td;
      }),
      h('td', { class: 'metric' }, percent(recall.get(m)?.precision ?? null)),
    );
  });
  return h(
    'table',
    { class: 'confusion', 'data-testid': 'confusion' },
    h('caption', {}, tn('dash.chart.confusionCaption', c.total, { count: num(c.total), share: percent(c.agreement) })),
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, t('dash.chart.confusionCorner')), ...c.labels.map((l) => h('th', { scope: 'col' }, labelName(l))), h('th', { class: 'metric' }, t('dash.chart.precision'))),
    ),
    h('tbody', {}, ...rows),
    h('tfoot', {}, h('tr', {}, h('th', {}, t('dash.chart.recall')), ...c.labels.map((l) => h('td', { class: 'metric' }, percent(recall.get(l)?.recall ?? null))), h('td', {}))),
  );
}
