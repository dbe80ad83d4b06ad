import type { DecidedBy, InspectionState, Verdict } from '../inspect/inspection.js';

/** Parts of one outcome (as the store groups them), `n` of them. */
export interface Outcome {
  modelVerdict: Verdict | null;
  verdict: Verdict | null;
  decidedBy: DecidedBy | null;
  state: InspectionState;
  audit: boolean;
  n: number;
}

/**
 * Counts every figure is built from. Each part lands in exactly one of
 * passed / failed / pending / errors, so those four add up to `inspected`.
 */
export interface Tally {
  inspected: number;
  /** Final verdict pass (by the model, a person, or a review timeout). */
  passed: number;
  /** Final verdict fail. */
  failed: number;
  /** Still waiting for a person. */
  pending: number;
  /** No result (camera, decode or model error): never a pass. */
  errors: number;
  /** The model passed it at once and that verdict stands (first-pass yield's numerator). */
  firstPass: number;
  /** Parts with a model verdict (inspected - errors). */
  withModelVerdict: number;
  /** The model could not decide: uncertain band, sent to a person. */
  uncertain: number;
  /** Confident verdicts sampled for a person to check. */
  audited: number;
  /** A person decided. */
  operatorDecisions: number;
  /** The review timed out and the safe (or, for audits, the model's) verdict was applied. */
  timedOut: number;
  /** A person judged a confident model verdict (audit samples that were judged in time). */
  confidentJudged: number;
  /** ... and gave the other verdict. */
  overridden: number;
  /** Confident model passes (the escape estimate's population). */
  modelPasses: number;
  /** Confident model passes a person judged. */
  passesJudged: number;
  /** ... and failed: escapes the audit caught. */
  passesJudgedFail: number;
  /** Confident passes sampled for audit that nobody judged in time (timed out or still waiting). */
  passesAuditUnjudged: number;
  /** Confident model fails, and the same three counts for false rejects. */
  modelFails: number;
  failsJudged: number;
  failsJudgedPass: number;
  failsAuditUnjudged: number;
}

export function emptyTally(): Tally {
  return {
    inspected: 0, passed: 0, failed: 0, pending: 0, errors: 0, firstPass: 0, withModelVerdict: 0, uncertain: 0, audited: 0,
    operatorDecisions: 0, timedOut: 0, confidentJudged: 0, overridden: 0, modelPasses: 0, passesJudged: 0, passesJudgedFail: 0,
    passesAuditUnjudged: 0, modelFails: 0, failsJudged: 0, failsJudgedPass: 0, failsAuditUnjudged: 0,
  };
}

/** Add `o.n` parts of outcome `o` to `t`. */
export function count(t: Tally, o: Outcome): Tally {
  const n = o.n;
  t.inspected += n;
  if (o.state === 'error') t.errors += n;
  else if (o.state === 'awaiting-review') t.pending += n;
  else if (o.verdict === 'pass') t.passed += n;
  else if (o.verdict === 'fail') t.failed += n;
  else t.errors += n; // settled without a verdict: cannot happen, but never count it as a pass
  if (o.state === 'error' || o.modelVerdict === null) return t;
  t.withModelVerdict += n;
  if (o.modelVerdict === 'pass' && o.verdict === 'pass' && o.state !== 'awaiting-review') t.firstPass += n;
  if (o.modelVerdict === 'review') t.uncertain += n;
  if (o.audit) t.audited += n;
  if (o.decidedBy === 'operator') t.operatorDecisions += n;
  if (o.decidedBy === 'timeout') t.timedOut += n;
  const judged = o.decidedBy === 'operator';
  if (o.modelVerdict === 'pass') {
    t.modelPasses += n;
    if (judged) {
      t.passesJudged += n;
      if (o.verdict === 'fail') t.passesJudgedFail += n;
    } else if (o.audit) t.passesAuditUnjudged += n;
  } else if (o.modelVerdict === 'fail') {
    t.modelFails += n;
    if (judged) {
      t.failsJudged += n;
      if (o.verdict === 'pass') t.failsJudgedPass += n;
    } else if (o.audit) t.failsAuditUnjudged += n;
  }
  if (judged && (o.modelVerdict === 'pass' || o.modelVerdict === 'fail')) {
    t.confidentJudged += n;
    if (o.verdict !== o.modelVerdict) t.overridden += n;
  }
  return t;
}

export function tallyOf(outcomes: Iterable<Outcome>): Tally {
  const t = emptyTally();
  for (const o of outcomes) count(t, o);
  return t;
}
