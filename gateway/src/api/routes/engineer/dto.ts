import { z } from 'zod';
import type { Bucket } from '../../../stats/buckets.js';
import { emptyTally } from '../../../stats/tally.js';
import type { ZonedClock } from '../../../stats/zoned-clock.js';
import type { InspectionWithDecision } from '../../../store/queries.js';
import { inspectionDto, toInspectionDto } from '../../schemas.js';

/** Response shapes of the engineer API (published in the OpenAPI document). */

/** OpenAPI: every engineer route takes an API token or an HMI session (schemes declared in server.ts). */
export const secured: { [scheme: string]: string[] }[] = [{ apiToken: [] }, { session: [] }];

export const decisionDto = z.object({
  id: z.string(),
  verdict: z.enum(['pass', 'fail']),
  defectClass: z.string().nullable(),
  note: z.string().nullable(),
  decidedBy: z.enum(['operator', 'timeout']),
  operatorId: z.string().nullable(),
  decidedAt: z.string().describe('ISO 8601, UTC'),
});

export const engineerInspectionDto = inspectionDto.extend({
  review: decisionDto.nullable().describe("The person's (or the review timeout's) decision, if any"),
  overridden: z.boolean().describe("A person reversed the model's confident verdict"),
  overlayUrl: z.string().nullable().describe('The image with findings drawn on it'),
  thumbnailUrl: z.string().nullable(),
});

export const historyEventDto = z.object({
  at: z.string().describe('ISO 8601, UTC'),
  event: z.enum(['inspected', 'sampled-for-audit', 'sent-to-review', 'decided', 'timed-out', 'no-result']),
  actor: z.string().describe('model id@version, operator id, or "timeout"'),
  verdict: z.enum(['pass', 'fail', 'review']).nullable(),
  defectClass: z.string().nullable(),
  detail: z.string().nullable(),
});

export const inspectionDetailDto = engineerInspectionDto.extend({ history: z.array(historyEventDto) });

export function toEngineerDto(row: InspectionWithDecision): z.infer<typeof engineerInspectionDto> {
  const i = row.inspection;
  const d = row.decision;
  const image = i.imageRef !== null;
  return {
    ...toInspectionDto(i),
    review: d === null ? null : { id: d.id, verdict: d.verdict, defectClass: d.defectClass, note: d.note, decidedBy: d.decidedBy, operatorId: d.operatorId, decidedAt: d.decidedAt.toISOString() },
    overridden: i.decidedBy === 'operator' && (i.modelVerdict === 'pass' || i.modelVerdict === 'fail') && i.verdict !== i.modelVerdict,
    overlayUrl: image ? `/api/inspections/${i.id}/overlay` : null,
    thumbnailUrl: image ? `/api/inspections/${i.id}/thumbnail` : null,
  };
}

/** What happened to a part, in order. */
export function historyOf(row: InspectionWithDecision): z.infer<typeof historyEventDto>[] {
  const i = row.inspection;
  const d = row.decision;
  const at = i.triggeredAt.toISOString();
  const model = `${i.modelId}@${i.modelVersion}`;
  if (i.state === 'error') return [{ at, event: 'no-result', actor: model, verdict: null, defectClass: null, detail: `${i.errorCode ?? 'error'}: ${i.reason}` }];
  const top = i.findings[0];
  const out: z.infer<typeof historyEventDto>[] = [
    {
      at,
      event: 'inspected',
      actor: model,
      verdict: i.modelVerdict,
      defectClass: i.modelVerdict === 'pass' ? null : (top?.label ?? null),
      detail: `defect score ${i.defectScore?.toFixed(3) ?? '-'}${top ? `, most likely ${top.label} ${top.score.toFixed(3)}` : ''}`,
    },
  ];
  if (i.audit) out.push({ at, event: 'sampled-for-audit', actor: model, verdict: i.modelVerdict, defectClass: null, detail: 'confident verdict sampled for a person to check' });
  if (i.audit || i.modelVerdict === 'review') out.push({ at, event: 'sent-to-review', actor: model, verdict: 'review', defectClass: null, detail: null });
  if (d !== null) {
    out.push({
      at: d.decidedAt.toISOString(),
      event: d.decidedBy === 'timeout' ? 'timed-out' : 'decided',
      actor: d.operatorId ?? 'timeout',
      verdict: d.verdict,
      defectClass: d.defectClass,
      detail: d.decidedBy === 'timeout' ? i.reason : d.note,
    });
  }
  return out;
}

export const intervalDto = z.object({ lower: z.number(), upper: z.number() });
export const proportionDto = z
  .object({ x: z.number().int(), n: z.number().int(), value: z.number().nullable(), ci: intervalDto.nullable() })
  .describe('x of n, value = x / n, ci = exact (Clopper-Pearson) interval at the requested confidence; null when n = 0');

export const bucketDto = z.object({
  key: z.string(),
  label: z.string(),
  from: z.string().describe("ISO 8601 with the plant's offset, inclusive"),
  to: z.string().describe('exclusive'),
  shift: z.string().nullable(),
});

export function toBucketDto(b: Bucket, clock: ZonedClock): z.infer<typeof bucketDto> {
  return { key: b.key, label: b.label, from: clock.iso(b.from), to: clock.iso(b.to), shift: b.shift };
}

export const tallyDto = z.object(Object.fromEntries(Object.keys(emptyTally()).map((k) => [k, z.number().int()])) as Record<keyof ReturnType<typeof emptyTally>, z.ZodNumber>);

export const ratesDto = z.object({
  yield: proportionDto,
  firstPassYield: proportionDto,
  reviewRate: proportionDto,
  auditRate: proportionDto,
  overrideRate: proportionDto,
  errorRate: proportionDto,
});

export const estimateDto = z.object({ value: z.number().nullable(), ci: intervalDto.nullable() });
export const slipDto = z.object({
  method: z.literal('clopper-pearson'),
  confidence: z.number(),
  population: z.number().int(),
  rate: proportionDto,
  unjudgedSamples: z.number().int(),
  unchecked: z.number().int(),
  expected: estimateDto,
});

export const tokenViewDto = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.enum(['read', 'admin']),
  hint: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  active: z.boolean(),
});
