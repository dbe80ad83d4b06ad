/**
 * The one record a part carries through the gateway. Created at the trigger
 * with a part id and filled in stage by stage; persisted by `store/`.
 */

/** What the line does with the part. `review` means "hold for an operator". */
export type Verdict = 'pass' | 'fail' | 'review';

/** Who settled the verdict that stands. */
export type DecidedBy = 'model' | 'operator' | 'timeout';

/** A part's state in its lifetime: `error` means no result could be produced. */
export type InspectionState = 'decided' | 'awaiting-review' | 'reviewed' | 'timed-out' | 'error';

/** Box in normalised image coordinates (0..1 of the frame as captured). */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Coarse localisation grid, row-major, values 0..255 (0 = nothing, 255 = certain defect). */
export interface HeatMap {
  width: number;
  height: number;
  /** Part of the frame the grid covers (the whole frame unless the model letterboxes or crops). */
  region: Box;
  /** base64 of `width * height` unsigned bytes. */
  data: string;
}

/** One thing the model saw. Output adapters in `vision/` produce these. */
export interface Finding {
  label: string;
  /** Confidence 0..1 that `label` is present. */
  score: number;
  box?: Box;
  heatMap?: HeatMap;
}

/** Milliseconds spent in each stage of the pipeline. */
export interface StageTimings {
  grabMs?: number;
  decodeMs?: number;
  preprocessMs?: number;
  inferMs?: number;
  decideMs?: number;
  /** What the image write still needed once the verdict was known (it runs beside inference), plus the row's commit. */
  storeMs?: number;
  totalMs?: number;
}

/** Ground truth attached by the synthetic line (and by nothing else). */
export interface GroundTruth {
  /** `good` or the defect kind. */
  label: string;
  defects: { kind: string; box: Box }[];
}

export interface Inspection {
  /** Gateway-unique id (ULID): time-ordered, safe to use as a cursor. */
  id: string;
  /** The part's id as the line knows it (from the PLC, a file name, or generated). */
  partId: string;
  station: string;
  /** When the trigger fired. */
  triggeredAt: Date;
  trigger: 'interval' | 'file' | 'api' | 'plc';
  modelId: string;
  modelVersion: string;
  findings: Finding[];
  /** Overall defect score 0..1 the policy judged (1 = surely defective). */
  defectScore: number | null;
  /** Verdict the model's policy gave at once (what the PLC got first). */
  modelVerdict: Verdict | null;
  /** Verdict that stands now; `review` until an operator or the timeout settles it. */
  verdict: Verdict | null;
  /** The defect class the final verdict names, if any. */
  defectClass: string | null;
  decidedBy: DecidedBy | null;
  /** Human-readable reason for the verdict, from the policy or the operator. */
  reason: string;
  /** True when a confident verdict was sampled for review to measure escapes. */
  audit: boolean;
  state: InspectionState;
  /** Error code when `state === 'error'` (e.g. LOUPE_ERR_FRAME_DECODE). */
  errorCode: string | null;
  timings: StageTimings;
  /** Relative path of the stored image in the image store, or null. */
  imageRef: string | null;
  /** Source of the frame: file name, URL or synthetic index. */
  sourceRef: string | null;
  truth: GroundTruth | null;
}
