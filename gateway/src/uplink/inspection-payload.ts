import type { Inspection } from '../inspect/inspection.js';
import type { Origin } from './correction-payload.js';
import type { InspectionWire } from './wire-payloads.js';

/** A sampled inspection as the outbox keeps it: the wire payload less the image (attached when sent). */
export type StoredInspection = Omit<InspectionWire, 'image'> & { imageRef: string | null };

export function inspectionPayload(origin: Origin, i: Inspection): StoredInspection {
  return {
    schema: 'loupe.inspection',
    schemaVersion: 1,
    inspectionId: i.id,
    site: origin.site,
    line: origin.line,
    gatewayId: origin.gatewayId,
    station: i.station,
    partId: i.partId,
    sourceRef: i.sourceRef,
    triggeredAt: i.triggeredAt.toISOString(),
    trigger: i.trigger,
    model: { id: i.modelId, version: i.modelVersion, verdict: i.modelVerdict, defectScore: i.defectScore, findings: i.findings },
    verdict: i.verdict,
    decidedBy: i.decidedBy,
    state: i.state,
    audit: i.audit,
    reason: i.reason,
    errorCode: i.errorCode,
    timings: Object.fromEntries(Object.entries(i.timings).filter((e): e is [string, number] => typeof e[1] === 'number')),
    imageRef: i.imageRef,
  };
}
