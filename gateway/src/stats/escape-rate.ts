import { proportion, type Interval, type Proportion } from './proportion.js';
import type { Tally } from './tally.js';

/** An estimated count, with the interval carried over from the rate it was scaled from. */
export interface Estimate {
  value: number | null;
  ci: Interval | null;
}

export interface SlipEstimate {
  /** How the interval was computed. */
  method: 'clopper-pearson';
  confidence: number;
  /** Parts the model decided confidently this way (the population). */
  population: number;
  /** Audit samples a person judged, and how many of them the person reversed. */
  rate: Proportion;
  /** Audit samples nobody judged in time: not in `rate`. Many of them weaken the estimate (they may not be random). */
  unjudgedSamples: number;
  /** Parts that went out on the model's word alone (population minus judged samples). */
  unchecked: number;
  /** rate x unchecked: how many of those are expected to be wrong. */
  expected: Estimate;
}

export interface EscapeFigures {
  /**
   * Escapes: defective parts the model passed. Estimated from audit samples of
   * confident passes that a person judged. `perShipped` relates the expected
   * escapes to every part shipped as pass, in the selection.
   */
  escapes: SlipEstimate & { shipped: number; perShipped: Estimate };
  /** False rejects: good parts the model failed, from audit samples of confident fails. */
  falseRejects: SlipEstimate;
}

function slip(population: number, judged: number, reversed: number, unjudged: number, confidence: number): SlipEstimate {
  const rate = proportion(reversed, judged, confidence);
  const unchecked = population - judged;
  return {
    method: 'clopper-pearson',
    confidence,
    population,
    rate,
    unjudgedSamples: unjudged,
    unchecked,
    expected: {
      value: rate.value === null ? null : rate.value * unchecked,
      ci: rate.ci === null ? null : { lower: rate.ci.lower * unchecked, upper: rate.ci.upper * unchecked },
    },
  };
}

/**
 * Audit sampling draws confident verdicts at random, so the share of sampled
 * passes a person fails estimates the share of all confident passes that are
 * defective. Assumes the person judges right and samples are judged
 * regardless of what they show (unjudged samples are reported, not guessed).
 */
export function escapeFigures(t: Tally, confidence = 0.95): EscapeFigures {
  const e = slip(t.modelPasses, t.passesJudged, t.passesJudgedFail, t.passesAuditUnjudged, confidence);
  const shipped = t.passed;
  const per = (v: number | null) => (v === null || shipped === 0 ? null : v / shipped);
  return {
    escapes: {
      ...e,
      shipped,
      perShipped: { value: per(e.expected.value), ci: e.expected.ci && shipped > 0 ? { lower: e.expected.ci.lower / shipped, upper: e.expected.ci.upper / shipped } : null },
    },
    falseRejects: slip(t.modelFails, t.failsJudged, t.failsJudgedPass, t.failsAuditUnjudged, confidence),
  };
}
