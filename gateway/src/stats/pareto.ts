/** One bar of a Pareto chart. */
export interface ParetoBar {
  /** Defect class; "unclassified" for a fail without one. */
  defectClass: string;
  count: number;
  /** Share of all fails, 0..1. */
  share: number;
  /** Share of this bar and all bigger ones, 0..1. */
  cumulativeShare: number;
}

export const UNCLASSIFIED = 'unclassified';

/** Failed parts by defect class, biggest first (ties by name, so the order is stable). */
export function pareto(counts: readonly { defectClass: string | null; n: number }[]): { total: number; bars: ParetoBar[] } {
  const merged = new Map<string, number>();
  for (const c of counts) merged.set(c.defectClass ?? UNCLASSIFIED, (merged.get(c.defectClass ?? UNCLASSIFIED) ?? 0) + c.n);
  const total = [...merged.values()].reduce((a, b) => a + b, 0);
  let running = 0;
  const bars = [...merged.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([defectClass, n]) => {
      running += n;
      return { defectClass, count: n, share: n / total, cumulativeShare: running / total };
    });
  return { total, bars };
}
