import type { Verdict } from '../inspect/inspection.js';

/** Name of the no-defect class on both axes (a pass carries no class). */
export const GOOD = 'good';
/** Operator fail without a class the model knows. */
export const OTHER = 'other';

/** Parts a person judged, grouped: what the model said and what the person said. */
export interface JudgedGroup {
  modelVerdict: Verdict;
  /** The model's most likely defect class (its first finding). */
  modelTopClass: string | null;
  verdict: 'pass' | 'fail';
  defectClass: string | null;
  n: number;
}

export interface ClassFigures {
  label: string;
  /** Model and person both said this class. */
  truePositives: number;
  /** The model said this class (row sum). */
  predicted: number;
  /** The person said this class (column sum). */
  actual: number;
  /** truePositives / predicted; null when the model never said it. */
  precision: number | null;
  /** truePositives / actual; null when the person never said it. */
  recall: number | null;
  f1: number | null;
}

export interface Confusion {
  /** Axis labels: good first, then defect classes by name, other last. */
  labels: string[];
  /** matrix[model][person]: parts the model put in class `labels[model]` and the person in `labels[person]`. */
  matrix: number[][];
  perClass: ClassFigures[];
  total: number;
  /** Share of parts where model and person named the same class. */
  agreement: number | null;
  /** The same parts by verdict: the model's pass / fail / review against the person's pass / fail. */
  verdicts: { model: Verdict; person: 'pass' | 'fail'; n: number }[];
}

/**
 * The model's class for a judged part: good when it passed the part;
 * otherwise the class it found most likely (for a part in the uncertain band,
 * the class it leaned to).
 */
export function modelClassOf(g: Pick<JudgedGroup, 'modelVerdict' | 'modelTopClass'>): string {
  return g.modelVerdict === 'pass' ? GOOD : (g.modelTopClass ?? GOOD);
}

/** The person's class: good for a pass, the named class (or other) for a fail. */
export function personClassOf(g: Pick<JudgedGroup, 'verdict' | 'defectClass'>): string {
  return g.verdict === 'pass' ? GOOD : (g.defectClass ?? OTHER);
}

export function confusion(groups: readonly JudgedGroup[]): Confusion {
  const names = new Set<string>();
  for (const g of groups) names.add(modelClassOf(g)).add(personClassOf(g));
  names.delete(GOOD);
  const hasOther = names.delete(OTHER);
  const labels = [GOOD, ...[...names].sort(), ...(hasOther ? [OTHER] : [])];
  const index = new Map(labels.map((l, k) => [l, k]));
  const matrix = labels.map(() => labels.map(() => 0));
  const verdicts = new Map<string, { model: Verdict; person: 'pass' | 'fail'; n: number }>();
  let total = 0;
  for (const g of groups) {
    const row = matrix[index.get(modelClassOf(g)) ?? 0];
    const col = index.get(personClassOf(g)) ?? 0;
    if (row) row[col] = (row[col] ?? 0) + g.n;
    total += g.n;
    const key = `${g.modelVerdict}/${g.verdict}`;
    const v = verdicts.get(key) ?? { model: g.modelVerdict, person: g.verdict, n: 0 };
    v.n += g.n;
    verdicts.set(key, v);
  }
  const perClass = labels.map((label, k) => {
    const tp = matrix[k]?.[k] ?? 0;
    const predicted = (matrix[k] ?? []).reduce((a, b) => a + b, 0);
    const actual = matrix.reduce((a, r) => a + (r[k] ?? 0), 0);
    const precision = predicted > 0 ? tp / predicted : null;
    const recall = actual > 0 ? tp / actual : null;
    const f1 = precision !== null && recall !== null && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : null;
    return { label, truePositives: tp, predicted, actual, precision, recall, f1 };
  });
  const trace = labels.reduce((a, _l, k) => a + (matrix[k]?.[k] ?? 0), 0);
  const order: Verdict[] = ['pass', 'fail', 'review'];
  return {
    labels,
    matrix,
    perClass,
    total,
    agreement: total > 0 ? trace / total : null,
    verdicts: [...verdicts.values()].sort((a, b) => order.indexOf(a.model) - order.indexOf(b.model) || a.person.localeCompare(b.person)),
  };
}
