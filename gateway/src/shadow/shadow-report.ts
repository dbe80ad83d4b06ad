import type { PromoteConfig } from '../config/sections/models.js';
import type { Verdict } from '../inspect/inspection.js';
import type { ShadowRun, ShadowTally } from '../store/shadow-results.js';
import type { ShadowCounts } from './shadow-runner.js';

/** How one model fared on the parts an operator judged. */
export interface ConfirmedOutcome {
  /** Verdict equal to the operator's. */
  correct: number;
  /** Passed, the operator failed it. */
  escapes: number;
  /** Failed, the operator passed it. */
  falseRejects: number;
  /** Sent to an operator. */
  reviews: number;
  /** escapes, false rejects and reviews weighted by models.promote.cost*. */
  cost: number;
}

export interface ShadowReport {
  runId: number;
  station: string;
  candidate: { modelId: string; version: string; sha256: string; passBelow: number; failAtOrAbove: number };
  startedBy: string;
  startedAt: string;
  stoppedAt: string | null;
  running: boolean;
  /** Parts both models inspected. */
  parts: number;
  skipped: number;
  failed: number;
  agreement: {
    /** Parts where the candidate's verdict equals the active model's. */
    same: number;
    /** same / parts, or null with no parts. */
    share: number | null;
    /** Parts by active verdict, then candidate verdict. */
    matrix: Record<Verdict, Record<Verdict, number>>;
  };
  /** Parts an operator judged (reviews and audit samples): the only ground truth the line has. */
  confirmed: { parts: number; active: ConfirmedOutcome; candidate: ConfirmedOutcome };
  /** Whether a promotion without `force` would go ahead, and why not. */
  gate: { ok: boolean; reasons: string[] };
}

const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'review'];

/**
 * Agreement with the active model on every shadowed part, and both models
 * against the operators on the parts they judged. The gate asks for enough
 * evidence and a candidate that does not cost more on the confirmed parts
 * than the model running now (a shipped defect weighs most).
 */
export function shadowReport(run: ShadowRun, tally: readonly ShadowTally[], live: ShadowCounts | null, cfg: PromoteConfig): ShadowReport {
  const matrix = Object.fromEntries(VERDICTS.map((a) => [a, Object.fromEntries(VERDICTS.map((c) => [c, 0]))])) as ShadowReport['agreement']['matrix'];
  const active = emptyOutcome();
  const candidate = emptyOutcome();
  let parts = 0;
  let same = 0;
  let confirmed = 0;
  for (const t of tally) {
    parts += t.parts;
    matrix[t.activeVerdict][t.candidateVerdict] += t.parts;
    if (t.activeVerdict === t.candidateVerdict) same += t.parts;
    if (t.operatorVerdict === null) continue;
    confirmed += t.parts;
    count(active, t.activeVerdict, t.operatorVerdict, t.parts, cfg);
    count(candidate, t.candidateVerdict, t.operatorVerdict, t.parts, cfg);
  }
  const reasons: string[] = [];
  if (parts < cfg.minShadowParts) reasons.push(`${parts} parts shadowed, models.promote.minShadowParts asks for ${cfg.minShadowParts}`);
  if (confirmed < cfg.minConfirmedParts) reasons.push(`${confirmed} of them judged by an operator, models.promote.minConfirmedParts asks for ${cfg.minConfirmedParts}`);
  if (candidate.cost > active.cost) {
    reasons.push(
      `on the operator-judged parts the candidate costs ${candidate.cost} (${candidate.escapes} escapes, ${candidate.falseRejects} good parts failed, ${candidate.reviews} reviews), ` +
        `the active model ${active.cost} (${active.escapes}, ${active.falseRejects}, ${active.reviews})`,
    );
  }
  return {
    runId: run.id,
    station: run.station,
    candidate: { modelId: run.modelId, version: run.version, sha256: run.sha256, passBelow: run.passBelow, failAtOrAbove: run.failAtOrAbove },
    startedBy: run.startedBy,
    startedAt: run.startedAt.toISOString(),
    stoppedAt: run.stoppedAt?.toISOString() ?? null,
    running: run.stoppedAt === null && live !== null,
    parts,
    skipped: live?.skipped ?? run.skipped,
    failed: live?.failed ?? run.failed,
    agreement: { same, share: parts === 0 ? null : same / parts, matrix },
    confirmed: { parts: confirmed, active, candidate },
    gate: { ok: reasons.length === 0, reasons },
  };
}

function emptyOutcome(): ConfirmedOutcome {
  return { correct: 0, escapes: 0, falseRejects: 0, reviews: 0, cost: 0 };
}

function count(o: ConfirmedOutcome, said: Verdict, truth: 'pass' | 'fail', n: number, cfg: PromoteConfig): void {
  if (said === 'review') {
    o.reviews += n;
    o.cost += n * cfg.costReview;
  } else if (said === truth) {
    o.correct += n;
  } else if (said === 'pass') {
    o.escapes += n;
    o.cost += n * cfg.costEscape;
  } else {
    o.falseRejects += n;
    o.cost += n * cfg.costFalseReject;
  }
}
