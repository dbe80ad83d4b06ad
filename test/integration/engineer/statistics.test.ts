import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIFT, TIME_ZONE, WINDOW, type FilledPart } from '../../helpers/filled-store.js';
import { call, exactInterval, localTime, startFilledGateway, type FilledGateway } from './engineer-harness.js';

/**
 * Every figure here is worked out in the test from the filled store's own
 * record of each part (ground truth, model output, the operator's decision),
 * with the tests' own time-zone reading and interval code, and compared with
 * what the API answers.
 */

let g: FilledGateway;
beforeAll(async () => {
  g = await startFilledGateway('loupe-engineer-stats-');
}, 120_000);
afterAll(async () => g?.close());

interface Proportion {
  x: number;
  n: number;
  value: number | null;
  ci: { lower: number; upper: number } | null;
}
const window = `to=${encodeURIComponent(WINDOW.to.toISOString())}`;
const get = <T>(path: string) => call<T>(g.url, 'GET', path, { token: g.adminToken });

/** x of n, checked against the exact interval worked out by its definition. */
function expectProportion(p: Proportion, x: number, n: number, confidence = 0.95): void {
  expect({ x: p.x, n: p.n }).toEqual({ x, n });
  if (n === 0) return void expect(p.value).toBeNull();
  expect(p.value).toBeCloseTo(x / n, 12);
  const ci = exactInterval(x, n, confidence);
  expect(p.ci?.lower).toBeCloseTo(ci.lower, 9);
  expect(p.ci?.upper).toBeCloseTo(ci.upper, 9);
}

const count = (parts: FilledPart[], keep: (p: FilledPart) => boolean) => parts.filter(keep).length;
const passed = (p: FilledPart) => p.final.verdict === 'pass';
const failed = (p: FilledPart) => p.final.verdict === 'fail';
const judged = (p: FilledPart) => p.final.decidedBy === 'operator';
const overridden = (p: FilledPart) => judged(p) && (p.modelVerdict === 'pass' || p.modelVerdict === 'fail') && p.final.verdict !== p.modelVerdict;

/** The shift a part falls in, by the plant's shift plan (06-14 early, 14-22 late, 22-06 night, named by the day it starts). */
function shiftOf(ms: number): string {
  const t = localTime(ms, TIME_ZONE);
  if (t.hour >= 6 && t.hour < 14) return `${t.date} early`;
  if (t.hour >= 14 && t.hour < 22) return `${t.date} late`;
  if (t.hour >= 22) return `${t.date} night`;
  const prev = new Date(Date.parse(`${t.date}T12:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return `${prev} night`;
}
const hourOf = (ms: number) => {
  const t = localTime(ms, TIME_ZONE);
  return `${t.date}T${String(t.hour).padStart(2, '0')}:00${t.offset}`;
};
const dayOf = (ms: number) => localTime(ms, TIME_ZONE).date;

describe('engineer API: statistics', () => {
  it('counts yield, first-pass yield, review, audit, override and error rates exactly', async () => {
    for (const station of [null, 'line-b']) {
      const parts = g.parts.filter((p) => station === null || p.station === station);
      const s = await get<{ counts: Record<string, number>; rates: Record<string, Proportion> }>(`/api/stats/summary?${window}${station ? `&station=${station}` : ''}`);
      const withModel = count(parts, (p) => p.modelVerdict !== null);
      expect(s.counts).toMatchObject({
        inspected: parts.length,
        passed: count(parts, passed),
        failed: count(parts, failed),
        pending: 0,
        errors: count(parts, (p) => p.final.state === 'error'),
        firstPass: count(parts, (p) => p.modelVerdict === 'pass' && passed(p)),
        uncertain: count(parts, (p) => p.modelVerdict === 'review'),
        audited: count(parts, (p) => p.audit),
        operatorDecisions: count(parts, judged),
        timedOut: count(parts, (p) => p.final.decidedBy === 'timeout'),
        overridden: count(parts, overridden),
      });
      expectProportion(s.rates.yield as Proportion, count(parts, passed), parts.length);
      expectProportion(s.rates.firstPassYield as Proportion, count(parts, (p) => p.modelVerdict === 'pass' && passed(p)), parts.length);
      expectProportion(s.rates.reviewRate as Proportion, count(parts, (p) => p.modelVerdict === 'review'), withModel);
      expectProportion(s.rates.auditRate as Proportion, count(parts, (p) => p.audit), withModel);
      expectProportion(s.rates.overrideRate as Proportion, count(parts, overridden), count(parts, (p) => judged(p) && p.modelVerdict !== 'review'));
      expectProportion(s.rates.errorRate as Proportion, count(parts, (p) => p.final.state === 'error'), parts.length);
    }
    const wide = await get<{ rates: { yield: Proportion } }>(`/api/stats/summary?${window}&confidence=0.99`);
    expectProportion(wide.rates.yield, count(g.parts, passed), g.parts.length, 0.99);
  });

  it("buckets yield by the plant's local hours, shifts and days, across the end of summer time", async () => {
    type Series = { buckets: { bucket: { key: string; from: string; to: string; shift: string | null }; counts: Record<string, number>; rates: { yield: Proportion; firstPassYield: Proportion } }[] };
    for (const [by, keyOf] of [
      ['day', dayOf],
      ['shift', shiftOf],
      ['hour', hourOf],
    ] as const) {
      const series = await get<Series>(`/api/stats/yield?${window}&by=${by}`);
      const expected = new Map<string, FilledPart[]>();
      for (const p of g.parts) expected.set(keyOf(p.triggeredAt), [...(expected.get(keyOf(p.triggeredAt)) ?? []), p]);
      expect(series.buckets.map((b) => b.bucket.key).sort(), by).toEqual([...expected.keys()].sort());
      for (const b of series.buckets) {
        const parts = expected.get(b.bucket.key) ?? [];
        expect(b.counts.inspected, b.bucket.key).toBe(parts.length);
        expectProportion(b.rates.yield, count(parts, passed), parts.length);
        expectProportion(b.rates.firstPassYield, count(parts, (p) => p.modelVerdict === 'pass' && passed(p)), parts.length);
        // Every part of the bucket lies inside its stated bounds.
        for (const p of parts) expect(p.triggeredAt >= Date.parse(b.bucket.from) && p.triggeredAt < Date.parse(b.bucket.to), `${b.bucket.key} bounds`).toBe(true);
      }
      const froms = series.buckets.map((b) => Date.parse(b.bucket.from));
      expect(froms, 'buckets in time order').toEqual([...froms].sort((a, b) => a - b));
    }
    const days = await get<Series>(`/api/stats/yield?${window}&by=day`);
    expect(days.buckets.find((b) => b.bucket.key === '2026-10-25')?.bucket).toMatchObject({ from: '2026-10-25T00:00:00.000+02:00', to: '2026-10-26T00:00:00.000+01:00' });
    const hours = await get<Series>(`/api/stats/yield?${window}&by=hour`);
    const keys = hours.buckets.map((b) => b.bucket.key);
    // The hour that happens twice when clocks go back is two buckets.
    expect(keys).toContain('2026-10-25T02:00+02:00');
    expect(keys).toContain('2026-10-25T02:00+01:00');
    const shifts = await get<Series>(`/api/stats/yield?${window}&by=shift`);
    expect(shifts.buckets.find((b) => b.bucket.key === '2026-10-24 night')?.bucket).toMatchObject({ shift: 'night', from: '2026-10-24T22:00:00.000+02:00', to: '2026-10-25T06:00:00.000+01:00' });
  });

  it('ranks failed parts by defect class in a Pareto with cumulative shares', async () => {
    const p = await get<{ total: number; bars: { defectClass: string; count: number; share: number; cumulativeShare: number }[] }>(`/api/stats/pareto?${window}`);
    const counts = new Map<string, number>();
    for (const part of g.parts.filter(failed)) counts.set(part.final.defectClass ?? 'unclassified', (counts.get(part.final.defectClass ?? 'unclassified') ?? 0) + 1);
    const total = count(g.parts, failed);
    const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    expect(p.total).toBe(total);
    expect(p.bars.map((b) => [b.defectClass, b.count])).toEqual(sorted);
    let running = 0;
    for (const [k, b] of p.bars.entries()) {
      running += sorted[k]?.[1] ?? 0;
      expect(b.share).toBeCloseTo((sorted[k]?.[1] ?? 0) / total, 12);
      expect(b.cumulativeShare).toBeCloseTo(running / total, 12);
    }
    expect(p.bars.at(-1)?.cumulativeShare).toBeCloseTo(1, 12);
  });

  it('builds the model-against-operator confusion matrix and precision/recall per class from the ground truth', async () => {
    const judgedParts = g.parts.filter(judged);
    // The simulated operator judged by the ground truth; only the class slips made on purpose differ from it.
    for (const p of judgedParts) {
      expect(p.operator?.verdict).toBe(p.truth === 'good' ? 'pass' : 'fail');
      if (p.truth !== 'good' && !p.operator?.classWrongOnPurpose) expect(p.final.defectClass).toBe(p.truth);
    }
    const slips = new Map(judgedParts.filter((p) => p.operator?.classWrongOnPurpose).map((p) => [p.id, p.operator?.defectClass ?? 'other']));
    expect(slips.size).toBeGreaterThan(0);
    const personClass = (p: FilledPart) => (p.truth === 'good' ? 'good' : (slips.get(p.id) ?? p.truth ?? 'other'));
    const modelClass = (p: FilledPart) => (p.modelVerdict === 'pass' ? 'good' : (p.topClass ?? 'good'));

    for (const sample of ['all', 'audit', 'uncertain'] as const) {
      const parts = judgedParts.filter((p) => sample === 'all' || (sample === 'audit' ? p.audit : p.modelVerdict === 'review'));
      const c = await get<{
        labels: string[];
        matrix: number[][];
        perClass: { label: string; truePositives: number; predicted: number; actual: number; precision: number | null; recall: number | null }[];
        total: number;
        agreement: number | null;
        verdicts: { model: string; person: string; n: number }[];
      }>(`/api/stats/confusion?${window}&sample=${sample}`);
      const labels = new Set(parts.flatMap((p) => [modelClass(p), personClass(p)]));
      expect(c.labels[0]).toBe('good');
      expect(new Set(c.labels)).toEqual(labels);
      expect(c.total).toBe(parts.length);
      for (const [r, m] of c.labels.entries()) {
        for (const [k, a] of c.labels.entries()) {
          expect(c.matrix[r]?.[k], `${sample}: model ${m}, person ${a}`).toBe(count(parts, (p) => modelClass(p) === m && personClass(p) === a));
        }
      }
      for (const f of c.perClass) {
        const tp = count(parts, (p) => modelClass(p) === f.label && personClass(p) === f.label);
        const predicted = count(parts, (p) => modelClass(p) === f.label);
        const actual = count(parts, (p) => personClass(p) === f.label);
        expect(f).toMatchObject({ truePositives: tp, predicted, actual });
        expect(f.precision).toBe(predicted ? tp / predicted : null);
        expect(f.recall).toBe(actual ? tp / actual : null);
      }
      expect(c.agreement).toBeCloseTo(count(parts, (p) => modelClass(p) === personClass(p)) / parts.length, 12);
      for (const v of c.verdicts) expect(v.n).toBe(count(parts, (p) => p.modelVerdict === v.model && p.final.verdict === v.person));
      expect(c.verdicts.reduce((a, v) => a + v.n, 0)).toBe(parts.length);
    }
  });

  it('estimates the escape rate from audit samples with an exact interval, and extrapolates it to what shipped', async () => {
    const e = await get<{
      escapes: { method: string; population: number; rate: Proportion; unjudgedSamples: number; unchecked: number; expected: { value: number; ci: { lower: number; upper: number } }; shipped: number; perShipped: { value: number; ci: { lower: number; upper: number } } };
      falseRejects: { population: number; rate: Proportion; unjudgedSamples: number; unchecked: number; expected: { value: number } };
    }>(`/api/stats/escapes?${window}`);
    // From the ground truth: audit samples of confident passes a person judged, and which of them were really defective.
    const modelPasses = g.parts.filter((p) => p.modelVerdict === 'pass');
    const sample = modelPasses.filter((p) => p.audit && judged(p));
    const escapes = count(sample, (p) => p.truth !== 'good');
    expect(escapes, 'the filled store has escapes to find').toBeGreaterThan(0);
    expect(e.escapes.method).toBe('clopper-pearson');
    expect(e.escapes.population).toBe(modelPasses.length);
    expectProportion(e.escapes.rate, escapes, sample.length);
    expect(e.escapes.unjudgedSamples).toBe(count(modelPasses, (p) => p.audit && p.final.decidedBy === 'timeout'));
    const unchecked = modelPasses.length - sample.length;
    expect(e.escapes.unchecked).toBe(unchecked);
    const ci = exactInterval(escapes, sample.length);
    expect(e.escapes.expected.value).toBeCloseTo((escapes / sample.length) * unchecked, 9);
    expect(e.escapes.expected.ci.lower).toBeCloseTo(ci.lower * unchecked, 6);
    expect(e.escapes.expected.ci.upper).toBeCloseTo(ci.upper * unchecked, 6);
    const shipped = count(g.parts, passed);
    expect(e.escapes.shipped).toBe(shipped);
    expect(e.escapes.perShipped.value).toBeCloseTo(((escapes / sample.length) * unchecked) / shipped, 12);

    const modelFails = g.parts.filter((p) => p.modelVerdict === 'fail');
    const failSample = modelFails.filter((p) => p.audit && judged(p));
    expect(e.falseRejects.population).toBe(modelFails.length);
    expectProportion(e.falseRejects.rate, count(failSample, (p) => p.truth === 'good'), failSample.length);
  });

  it('draws a p-chart of the defect fraction per hour with 3-sigma limits and flags the drift', async () => {
    const chart = await get<{
      centerLine: number;
      outOfControl: number;
      points: { bucket: { key: string; from: string }; n: number; defective: number; p: number; ucl: number; lcl: number; flags: string[] }[];
    }>(`/api/stats/p-chart?${window}&by=hour`);
    const groups = new Map<string, { n: number; d: number }>();
    for (const p of g.parts.filter((x) => passed(x) || failed(x))) {
      const k = hourOf(p.triggeredAt);
      const grp = groups.get(k) ?? { n: 0, d: 0 };
      grp.n++;
      if (failed(p)) grp.d++;
      groups.set(k, grp);
    }
    const n = [...groups.values()].reduce((a, x) => a + x.n, 0);
    const d = [...groups.values()].reduce((a, x) => a + x.d, 0);
    const pBar = d / n;
    expect(chart.centerLine).toBeCloseTo(pBar, 12);
    expect(chart.points).toHaveLength(groups.size);
    let side = 0;
    let run = 0;
    for (const pt of chart.points) {
      const grp = groups.get(pt.bucket.key);
      expect(grp, pt.bucket.key).toBeDefined();
      if (!grp) continue;
      const sigma = Math.sqrt((pBar * (1 - pBar)) / grp.n);
      expect([pt.n, pt.defective]).toEqual([grp.n, grp.d]);
      expect(pt.p).toBeCloseTo(grp.d / grp.n, 12);
      expect(pt.ucl).toBeCloseTo(Math.min(1, pBar + 3 * sigma), 12);
      expect(pt.lcl).toBeCloseTo(Math.max(0, pBar - 3 * sigma), 12);
      const s = Math.sign(pt.p - pBar);
      run = s !== 0 && s === side ? run + 1 : s !== 0 ? 1 : 0;
      side = s;
      const flags = [...(pt.p > pt.ucl ? ['above-ucl'] : []), ...(pt.p < pt.lcl ? ['below-lcl'] : []), ...(run >= 8 ? [s > 0 ? 'run-above' : 'run-below'] : [])];
      expect(pt.flags, pt.bucket.key).toEqual(flags);
    }
    const drift = chart.points.filter((pt) => Date.parse(pt.bucket.from) >= DRIFT.from.getTime() && Date.parse(pt.bucket.from) < DRIFT.to.getTime());
    expect(drift).toHaveLength(4);
    expect(drift.filter((pt) => pt.flags.includes('above-ucl')).length, 'drift hours beyond the upper limit').toBeGreaterThanOrEqual(2);
    expect(chart.outOfControl).toBe(chart.points.filter((pt) => pt.flags.length > 0).length);
  });
});
