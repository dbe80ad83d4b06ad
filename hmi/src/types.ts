/** Shapes the gateway sends (see gateway/src/api/routes/*.ts); only what the page reads. */

export type Verdict = 'pass' | 'fail' | 'review';
export type Role = 'operator' | 'engineer' | 'admin';

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Finding {
  label: string;
  score: number;
  box?: Box;
  heatMap?: { width: number; height: number; region: Box; data: string };
}

export interface Inspection {
  id: string;
  partId: string;
  station: string;
  triggeredAt: string;
  modelId: string;
  modelVersion: string;
  findings: Finding[];
  defectScore: number | null;
  modelVerdict: Verdict | null;
  verdict: Verdict | null;
  defectClass: string | null;
  decidedBy: 'model' | 'operator' | 'timeout' | null;
  reason: string;
  audit: boolean;
  state: 'decided' | 'awaiting-review' | 'reviewed' | 'timed-out' | 'error';
  imageUrl: string | null;
}

export interface QueueItem {
  inspection: Inspection;
  deadlineAt: string | null;
}

export interface Claim {
  inspectionId: string;
  screenId: string;
  operatorId: string;
  name: string;
}

export interface ReviewStation {
  id: string;
  name: string;
  defectLabels: string[];
  timeoutMs: number;
  safeVerdict: 'pass' | 'fail';
}

export interface Settled {
  inspectionId: string;
  partId: string;
  station: string;
  verdict: 'pass' | 'fail';
  defectClass: string | null;
  decidedBy: 'operator' | 'timeout';
  decisionId: string;
  operatorId: string | null;
  operatorName: string | null;
  decidedAt: string;
  reason: string;
}

export interface Session {
  operatorId: string;
  name: string;
  role: Role;
  locked: boolean;
  screenId: string;
  expiresAt: string;
  idleLockMs: number;
}

export interface HmiSettings {
  language: 'en' | 'de';
  idleLockMs: number;
  undoWindowMs: number;
  kiosk: { screen: 'review' | 'status'; station: string | null; hideCursor: boolean };
  origin: { site: string; line: string; gatewayId: string };
  stations: { id: string; name: string }[];
  demoPinsActive: boolean;
  /** The status screen works without a login. */
  publicStatus: boolean;
}

export type LinkState = 'ok' | 'degraded' | 'down' | 'disabled';

export interface ShiftCounts {
  pass: number;
  fail: number;
  review: number;
  error: number;
  yield: number | null;
}

export interface RecentPart {
  id: string;
  partId: string;
  station: string;
  at: string;
  verdict: Verdict | null;
  state: Inspection['state'];
  decidedBy: Inspection['decidedBy'];
  defectClass: string | null;
  defectScore: number | null;
  imageUrl: string | null;
}

export interface LineStatus {
  at: string;
  origin: HmiSettings['origin'];
  stations: {
    id: string;
    name: string;
    running: boolean;
    camera: { state: string; lastError: string | null; framesPerSecond: number };
    partsPerSecond: number;
    model: { id: string; version: string; provider: string };
    reviewBacklog: number;
    lastPartAt: string | null;
    shift: ShiftCounts;
  }[];
  links: { name: string; state: LinkState; detail: string | null }[];
  uplinkBacklog: { count: number; oldestAgeMs: number };
  shift: ShiftCounts & { startedAt: string };
  recent: RecentPart[];
}

export interface UserView {
  id: string;
  name: string;
  role: Role;
  disabled: boolean;
  lockedOut: boolean;
  lockedUntil: string | null;
  lastLoginAt: string | null;
}
