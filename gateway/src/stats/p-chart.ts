import type { Bucket } from './buckets.js';

export type ControlFlag = 'above-ucl' | 'below-lcl' | 'run-above' | 'run-below';

export interface PChartPoint {
  bucket: Bucket;
  /** Parts with a final verdict (pass or fail) in the subgroup. */
  n: number;
  /** Of them, failed. */
  defective: number;
  p: number;
  /** Centre line ± 3 sigma for this subgroup's n; LCL is clipped at 0 and UCL at 1. */
  ucl: number;
  lcl: number;
  flags: ControlFlag[];
  /** n x p-bar or n x (1 - p-bar) below 5: the normal approximation behind 3-sigma limits is poor for this point. */
  smallSample: boolean;
}

export interface PChart {
  /** Total defective / total n over all subgroups shown (phase I: limits from the same data). */
  centerLine: number | null;
  /** Points on one side of the centre line in a row that count as a run. */
  runLength: number;
  points: PChartPoint[];
  outOfControl: number;
}

/**
 * p-chart of the defect fraction with limits for each subgroup's size, and
 * two tests: a point beyond 3 sigma, and `runLength` (default 8) points in a
 * row on one side of the centre line (flagged from the point that completes
 * the run on). A point exactly on the centre line breaks a run.
 */
export function pChart(groups: readonly { bucket: Bucket; n: number; defective: number }[], runLength = 8): PChart {
  const used = groups.filter((g) => g.n > 0);
  const n = used.reduce((a, g) => a + g.n, 0);
  const d = used.reduce((a, g) => a + g.defective, 0);
  if (n === 0) return { centerLine: null, runLength, points: [], outOfControl: 0 };
  const pBar = d / n;
  let side = 0;
  let run = 0;
  const points = used.map((g) => {
    const p = g.defective / g.n;
    const sigma = Math.sqrt((pBar * (1 - pBar)) / g.n);
    const ucl = Math.min(1, pBar + 3 * sigma);
    const lcl = Math.max(0, pBar - 3 * sigma);
    const flags: ControlFlag[] = [];
    if (p > ucl) flags.push('above-ucl');
    if (p < lcl) flags.push('below-lcl');
    const s = Math.sign(p - pBar);
    run = s !== 0 && s === side ? run + 1 : s !== 0 ? 1 : 0;
    side = s;
    if (run >= runLength) flags.push(s > 0 ? 'run-above' : 'run-below');
    return { bucket: g.bucket, n: g.n, defective: g.defective, p, ucl, lcl, flags, smallSample: g.n * Math.min(pBar, 1 - pBar) < 5 };
  });
  return { centerLine: pBar, runLength, points, outOfControl: points.filter((p) => p.flags.length > 0).length };
}
