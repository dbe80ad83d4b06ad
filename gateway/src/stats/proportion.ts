/**
 * Proportions with exact (Clopper-Pearson) confidence intervals.
 *
 * Why Clopper-Pearson and not Wilson: the figures here end up in customer
 * reports ("escape rate below N ppm at 95 %"). Clopper-Pearson inverts the
 * binomial test itself, so its coverage is never below the stated level, for
 * any n and any true rate; Wilson is shorter and right on average, but its
 * coverage dips below 95 % for some rates near 0, which is exactly where
 * escape rates live. At x = 0 the upper bound is 1 - (alpha/2)^(1/n), the
 * figure quality engineers know from tables. The price is a slightly wider
 * interval, which is the safe side for a claim.
 */

export interface Interval {
  lower: number;
  upper: number;
}

/** x out of n, with its estimate and exact interval; value and ci are null when n = 0. */
export interface Proportion {
  x: number;
  n: number;
  value: number | null;
  ci: Interval | null;
}

export function proportion(x: number, n: number, confidence = 0.95): Proportion {
  if (n === 0) return { x, n, value: null, ci: null };
  return { x, n, value: x / n, ci: clopperPearson(x, n, confidence) };
}

/** Two-sided exact interval for a binomial proportion: each tail holds at most (1 - confidence) / 2. */
export function clopperPearson(x: number, n: number, confidence = 0.95): Interval {
  if (!Number.isInteger(x) || !Number.isInteger(n) || n <= 0 || x < 0 || x > n) throw new RangeError(`clopperPearson: need integers 0 <= x <= n, n > 0; got x=${x}, n=${n}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`clopperPearson: confidence must be in (0, 1), got ${confidence}`);
  const tail = (1 - confidence) / 2;
  // Lower: the p at which P(X >= x) = tail, i.e. the tail-quantile of Beta(x, n - x + 1); upper likewise.
  const lower = x === 0 ? 0 : betaQuantile(tail, x, n - x + 1);
  const upper = x === n ? 1 : betaQuantile(1 - tail, x + 1, n - x);
  return { lower, upper };
}

/** p such that I_p(a, b) = q, by bisection (I is monotone in p; 200 halvings reach double precision). */
export function betaQuantile(q: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let k = 0; k < 200; k++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (regularizedBeta(mid, a, b) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Regularized incomplete beta function I_x(a, b), by its continued fraction (Lentz). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaFraction(1 - x, b, a)) / b;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return h;
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(z) for z > 0 (Lanczos, g = 7: about 15 significant digits). */
export function logGamma(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const x = z - 1;
  let sum = LANCZOS[0] ?? 1;
  for (let k = 1; k < LANCZOS.length; k++) sum += (LANCZOS[k] ?? 0) / (x + k);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}
