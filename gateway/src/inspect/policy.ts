import type { PolicyConfig } from '../config/sections/station.js';
import type { Verdict } from './inspection.js';
import type { ModelResult } from '../vision/adapters/output-adapter.js';

/** Thresholds in force for one station: config first, then the model's own, then these defaults. */
export interface Thresholds {
  passBelow: number;
  failAtOrAbove: number;
  auditRate: number;
  classFailAtOrAbove: Record<string, number>;
}

export interface Decision {
  verdict: Verdict;
  /** Defect class the verdict names (fail and review), else null. */
  defectClass: string | null;
  /** Sentence an engineer reads in the log and the HMI. */
  reason: string;
  /** A confident verdict also sampled for an operator to check (escape measurement). */
  audit: boolean;
}

const DEFAULT_PASS_BELOW = 0.2;
const DEFAULT_FAIL_AT = 0.8;

export function resolveThresholds(cfg: PolicyConfig, model?: { passBelow: number; failAtOrAbove: number }): Thresholds {
  return {
    passBelow: cfg.passBelow ?? model?.passBelow ?? DEFAULT_PASS_BELOW,
    failAtOrAbove: cfg.failAtOrAbove ?? model?.failAtOrAbove ?? DEFAULT_FAIL_AT,
    auditRate: cfg.auditRate,
    classFailAtOrAbove: cfg.classFailAtOrAbove,
  };
}

/**
 * Findings + thresholds -> verdict, with the reason. Pure: `draw` is a
 * uniform 0..1 number the caller supplies for audit sampling, so tests and
 * replays are deterministic.
 */
export function decide(result: ModelResult, t: Thresholds, draw: number): Decision {
  const s = result.defectScore;
  const top = result.findings[0];
  const cls = top?.label ?? null;
  const fmt = (v: number) => v.toFixed(2);

  const classLimit = cls === null ? undefined : t.classFailAtOrAbove[cls];
  if (top && classLimit !== undefined && top.score >= classLimit) {
    return confident('fail', cls, `${cls} ${fmt(top.score)} >= class limit ${fmt(classLimit)}`, t, draw);
  }
  if (s >= t.failAtOrAbove) {
    return confident('fail', cls, `defect score ${fmt(s)} >= ${fmt(t.failAtOrAbove)}${cls ? ` (most likely ${cls})` : ''}`, t, draw);
  }
  if (s < t.passBelow) {
    return confident('pass', null, `defect score ${fmt(s)} < ${fmt(t.passBelow)}`, t, draw);
  }
  return {
    verdict: 'review',
    defectClass: cls,
    reason: `defect score ${fmt(s)} in uncertain band [${fmt(t.passBelow)}, ${fmt(t.failAtOrAbove)})${cls ? `, most likely ${cls}` : ''}`,
    audit: false,
  };
}

function confident(verdict: 'pass' | 'fail', defectClass: string | null, reason: string, t: Thresholds, draw: number): Decision {
  const audit = draw < t.auditRate;
  return { verdict, defectClass, reason: audit ? `${reason}; sampled for audit` : reason, audit };
}
