import type { Inspection } from '../inspect/inspection.js';
import type { Decision } from '../review/review-queue.js';

/** Who sends: lands in every payload so a plant-wide consumer knows the origin. */
export interface Origin {
  site: string;
  line: string;
  gatewayId: string;
}

/**
 * An operator's judgement as training data (schema: uplink/schemas/correction.v1.json).
 * The image travels by reference here; the publisher inlines it or links it when sending.
 */
export function correctionPayload(origin: Origin, i: Inspection, d: Decision) {
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
    triggeredAt: i.triggeredAt.toISOString(),
    decidedAt: d.decidedAt.toISOString(),
    model: { id: i.modelId, version: i.modelVersion, verdict: i.modelVerdict, defectScore: i.defectScore, findings: i.findings },
    operator: { id: d.operatorId, verdict: d.verdict, defectClass: d.defectClass, note: d.note },
    audit: i.audit,
    agreed: i.modelVerdict === 'review' ? null : i.modelVerdict === d.verdict,
    imageRef: i.imageRef,
  };
}

export type CorrectionPayload = ReturnType<typeof correctionPayload>;
