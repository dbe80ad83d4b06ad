import type { Bucketer } from '../stats/buckets.js';
import type { ZonedClock } from '../stats/zoned-clock.js';
import type { InspectionWithDecision } from '../store/queries.js';

/**
 * One exported inspection: the same fields, in the same order, for CSV and
 * NDJSON. Times are ISO 8601 with the plant's offset; `null` is an empty CSV cell.
 */
export interface ExportRecord {
  id: string;
  partId: string;
  station: string;
  triggeredAt: string;
  /** Local wall time without offset, which spreadsheets read as a date. */
  triggeredAtLocal: string;
  shift: string | null;
  trigger: string;
  modelId: string;
  modelVersion: string;
  defectScore: number | null;
  modelVerdict: string | null;
  /** The model's most likely defect class and its score (first finding). */
  modelClass: string | null;
  modelClassScore: number | null;
  verdict: string | null;
  defectClass: string | null;
  decidedBy: string | null;
  state: string;
  audit: boolean;
  /** A person reversed a confident model verdict. */
  overridden: boolean;
  reason: string;
  errorCode: string | null;
  reviewDecisionId: string | null;
  reviewVerdict: string | null;
  reviewDefectClass: string | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
  reviewNote: string | null;
  /** Ground truth (synthetic line only). */
  truthLabel: string | null;
  sourceRef: string | null;
  /** Path of the image inside a ZIP export (`images/...`); null when none is stored. */
  imageFile: string | null;
  totalMs: number | null;
  findings: unknown[];
}

/** Column order of CSV exports: the keys of ExportRecord. */
export const EXPORT_COLUMNS: readonly (keyof ExportRecord)[] = [
  'id', 'partId', 'station', 'triggeredAt', 'triggeredAtLocal', 'shift', 'trigger', 'modelId', 'modelVersion', 'defectScore', 'modelVerdict',
  'modelClass', 'modelClassScore', 'verdict', 'defectClass', 'decidedBy', 'state', 'audit', 'overridden', 'reason', 'errorCode',
  'reviewDecisionId', 'reviewVerdict', 'reviewDefectClass', 'reviewedBy', 'reviewedAt', 'reviewNote', 'truthLabel', 'sourceRef', 'imageFile',
  'totalMs', 'findings',
];

/** Text columns a spreadsheet could take for a formula (see csv.ts). */
export const TEXT_COLUMNS: ReadonlySet<keyof ExportRecord> = new Set<keyof ExportRecord>([
  'id', 'partId', 'station', 'shift', 'modelId', 'modelVersion', 'modelClass', 'defectClass', 'reason', 'errorCode', 'reviewDecisionId',
  'reviewDefectClass', 'reviewedBy', 'reviewNote', 'truthLabel', 'sourceRef', 'imageFile',
]);

export function imageFileOf(imageRef: string | null): string | null {
  return imageRef === null ? null : `images/${imageRef}`;
}

export function toExportRecord(row: InspectionWithDecision, clock: ZonedClock, bucketer: Bucketer): ExportRecord {
  const i = row.inspection;
  const d = row.decision;
  const at = i.triggeredAt.getTime();
  const top = i.findings[0];
  return {
    id: i.id,
    partId: i.partId,
    station: i.station,
    triggeredAt: clock.iso(at),
    triggeredAtLocal: new Date(clock.wall(at)).toISOString().slice(0, 19).replace('T', ' '),
    shift: bucketer.shiftName(at),
    trigger: i.trigger,
    modelId: i.modelId,
    modelVersion: i.modelVersion,
    defectScore: i.defectScore,
    modelVerdict: i.modelVerdict,
    modelClass: top?.label ?? null,
    modelClassScore: top?.score ?? null,
    verdict: i.verdict,
    defectClass: i.defectClass,
    decidedBy: i.decidedBy,
    state: i.state,
    audit: i.audit,
    overridden: i.decidedBy === 'operator' && (i.modelVerdict === 'pass' || i.modelVerdict === 'fail') && i.verdict !== i.modelVerdict,
    reason: i.reason,
    errorCode: i.errorCode,
    reviewDecisionId: d?.id ?? null,
    reviewVerdict: d?.verdict ?? null,
    reviewDefectClass: d?.defectClass ?? null,
    reviewedBy: d === null ? null : (d.operatorId ?? d.decidedBy),
    reviewedAt: d === null ? null : clock.iso(d.decidedAt.getTime()),
    reviewNote: d?.note ?? null,
    truthLabel: i.truth?.label ?? null,
    sourceRef: i.sourceRef,
    imageFile: imageFileOf(i.imageRef),
    totalMs: i.timings.totalMs ?? null,
    findings: i.findings,
  };
}
