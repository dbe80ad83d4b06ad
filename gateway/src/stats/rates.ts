import { proportion, type Proportion } from './proportion.js';
import type { Tally } from './tally.js';

/** The headline rates of a set of parts, each as x of n with its exact 95 % interval. */
export interface Rates {
  /** Final passes of all settled parts (parts with no result count as not passed; parts still in review are left out). */
  yield: Proportion;
  /** Parts the model passed at once and nobody reversed, of all settled parts. */
  firstPassYield: Proportion;
  /** Parts the model sent to a person (uncertain band), of parts with a model verdict. */
  reviewRate: Proportion;
  /** Confident verdicts sampled for audit, of parts with a model verdict. */
  auditRate: Proportion;
  /** A person reversed a confident model verdict, of confident verdicts a person judged. */
  overrideRate: Proportion;
  /** Parts with no result, of all parts. */
  errorRate: Proportion;
}

export function ratesOf(t: Tally, confidence = 0.95): Rates {
  const settled = t.inspected - t.pending;
  return {
    yield: proportion(t.passed, settled, confidence),
    firstPassYield: proportion(t.firstPass, settled, confidence),
    reviewRate: proportion(t.uncertain, t.withModelVerdict, confidence),
    auditRate: proportion(t.audited, t.withModelVerdict, confidence),
    overrideRate: proportion(t.overridden, t.confidentJudged, confidence),
    errorRate: proportion(t.errors, t.inspected, confidence),
  };
}
