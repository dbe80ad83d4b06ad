/** What the dashboard reads from the engineer API (gateway/src/api/routes/engineer/); only the fields it uses. */
import type { Inspection, Verdict } from '../types.js';

export interface Proportion {
  x: number;
  n: number;
  value: number | null;
  ci: { lower: number; upper: number } | null;
}

export interface Bucket {
  key: string;
  label: string;
  from: string;
  to: string;
  shift: string | null;
}

export interface Rates {
  yield: Proportion;
  firstPassYield: Proportion;
  reviewRate: Proportion;
  auditRate: Proportion;
  overrideRate: Proportion;
  errorRate: Proportion;
}

export interface Summary {
  timeZone: string;
  counts: { inspected: number; passed: number; failed: number; pending: number; errors: number; operatorDecisions: number; timedOut: number };
  rates: Rates;
}

export interface YieldSeries {
  by: 'hour' | 'shift' | 'day';
  buckets: { bucket: Bucket; counts: { inspected: number }; rates: Rates }[];
}

export interface Pareto {
  total: number;
  bars: { defectClass: string; count: number; share: number; cumulativeShare: number }[];
}

export interface Confusion {
  labels: string[];
  matrix: number[][];
  perClass: { label: string; truePositives: number; predicted: number; actual: number; precision: number | null; recall: number | null }[];
  total: number;
  agreement: number | null;
}

export interface Slip {
  population: number;
  rate: Proportion;
  unjudgedSamples: number;
  unchecked: number;
  expected: { value: number | null; ci: { lower: number; upper: number } | null };
}

export interface Escapes {
  escapes: Slip & { shipped: number; perShipped: { value: number | null; ci: { lower: number; upper: number } | null } };
  falseRejects: Slip;
}

export interface PChart {
  centerLine: number | null;
  outOfControl: number;
  points: { bucket: Bucket; n: number; defective: number; p: number; ucl: number; lcl: number; flags: string[]; smallSample: boolean }[];
}

export interface Review {
  id: string;
  verdict: 'pass' | 'fail';
  defectClass: string | null;
  note: string | null;
  decidedBy: 'operator' | 'timeout';
  operatorId: string | null;
  decidedAt: string;
}

/** A row of the inspection log: the part as the HMI knows it, plus what the engineer API adds. */
export interface Row extends Inspection {
  errorCode: string | null;
  truth: { label: string } | null;
  overlayUrl: string | null;
  thumbnailUrl: string | null;
  overridden: boolean;
  review: Review | null;
}

export interface Detail extends Row {
  history: { at: string; event: string; actor: string; verdict: Verdict | null; defectClass: string | null; detail: string | null }[];
}

export interface Page {
  items: Row[];
  nextCursor: string | null;
  total: number | null;
}

export interface Facets {
  stations: string[];
  modelVersions: string[];
  defectClasses: string[];
  timeZone: string;
  shifts: { name: string; start: string; end: string }[];
}

/** From the model routes (gateway/src/api/routes/models.ts). */
export interface ModelRef {
  source: 'registry' | 'config';
  modelId: string | null;
  version: string | null;
  sha256: string | null;
}

export interface StationModels {
  station: string;
  active: ModelRef;
  rollbackTo: ModelRef | null;
  inControl: boolean;
  problem: string | null;
  shadow: { runId: number; modelId: string; version: string; startedBy: string; startedAt: string; compared: number } | null;
}

export interface ModelPackage {
  modelId: string;
  version: string;
  sha256: string;
  addedAt: string;
  activeOn: string[];
  shadowOn: string[];
}

export interface ModelEvent {
  seq: number;
  at: string;
  action: string;
  model: ModelRef | null;
  previous: ModelRef | null;
  actor: string;
  reason: string;
  detail: Record<string, unknown> | null;
}

export interface ShadowReport {
  candidate: { modelId: string; version: string; sha256: string };
  running: boolean;
  parts: number;
  agreement: { same: number; share: number | null };
  confirmed: { parts: number; active: { correct: number }; candidate: { correct: number } };
  gate: { ok: boolean; reasons: string[] };
}

/** One station as GET /api/stations lists it. */
export interface StationStatus {
  id: string;
  model: { id: string; version: string; sha256: string };
}
