import { z } from 'zod';
import type { Inspection } from '../inspect/inspection.js';

/** API shapes. Request and response schemas are zod, compiled once by fastify and published as OpenAPI. */

const box = z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() });

export const findingDto = z.object({
  label: z.string(),
  score: z.number(),
  box: box.optional(),
  heatMap: z.object({ width: z.number().int(), height: z.number().int(), region: box, data: z.string().describe('base64 bytes, row-major, 0..255') }).optional(),
});

const verdict = z.enum(['pass', 'fail', 'review']);

export const inspectionDto = z.object({
  id: z.string().describe('ULID, time-ordered'),
  partId: z.string(),
  station: z.string(),
  triggeredAt: z.string().describe('ISO 8601, UTC'),
  trigger: z.enum(['interval', 'file', 'api', 'plc']),
  modelId: z.string(),
  modelVersion: z.string(),
  findings: z.array(findingDto),
  defectScore: z.number().nullable(),
  modelVerdict: verdict.nullable(),
  verdict: verdict.nullable(),
  defectClass: z.string().nullable(),
  decidedBy: z.enum(['model', 'operator', 'timeout']).nullable(),
  reason: z.string(),
  audit: z.boolean(),
  state: z.enum(['decided', 'awaiting-review', 'reviewed', 'timed-out', 'error']),
  errorCode: z.string().nullable(),
  timings: z.record(z.string(), z.number()),
  imageUrl: z.string().nullable(),
  sourceRef: z.string().nullable(),
  truth: z.object({ label: z.string(), defects: z.array(z.object({ kind: z.string(), box })) }).nullable(),
});

export type InspectionDto = z.infer<typeof inspectionDto>;

export function toInspectionDto(i: Inspection): InspectionDto {
  const { imageRef, triggeredAt, timings, ...rest } = i;
  return {
    ...rest,
    triggeredAt: triggeredAt.toISOString(),
    timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 100) / 100])),
    imageUrl: imageRef === null ? null : `/api/inspections/${i.id}/image`,
  };
}

export const errorDto = z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() });
