import type { Inspection } from '../inspect/inspection.js';
import type { Decision } from '../review/review-queue.js';
import type { CorrectionWire } from './wire-payloads.js';

/** Who sends: lands in every payload so a plant-wide consumer knows the origin. */
export interface Origin {
  site: string;
  line: string;
  gatewayId: string;
}

/**
 * A correction as the outbox keeps it: the wire payload
 * (schemas/correction.v1.schema.json) less the image, which is attached when
 * the message is sent (inline or by reference, by config at that time), so a
 * backlog never copies image bytes into SQLite.
 */
export type StoredCorrection = Omit<CorrectionWire, 'image'> & { imageRef: string | null };

/** An operator's judgement as training data; built inside the decision's transaction. */
export function correctionPayload(origin: Origin, i: Inspection, d: Decision): StoredCorrection {
  return {
    schema: 'loupe.correction',
    schemaVersion: 1,
    correctionId: d.id,
    site: origin.site,
    line: origin.line,
    gatewayId: origin.gatewayId,
    station: i.station,
    partId: i.partId,
    inspectionId: i.id,
    sourceRef: i.sourceRef,
    triggeredAt: i.triggeredAt.toISOString(),
    decidedAt: d.decidedAt.toISOString(),
    model: { id: i.modelId, version: i.modelVersion, verdict: i.modelVerdict, defectScore: i.defectScore, findings: i.findings },
    operator: { id: d.operatorId, verdict: d.verdict, defectClass: d.defectClass, note: d.note },
    audit: i.audit,
    agreed: i.modelVerdict === 'review' || i.modelVerdict === null ? null : i.modelVerdict === d.verdict,
    imageRef: i.imageRef,
  };
}
