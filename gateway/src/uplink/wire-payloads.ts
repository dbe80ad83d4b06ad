import { z } from 'zod';

/**
 * The JSON payloads on the plant broker: the one source of truth. The JSON
 * Schema files in ./schemas are generated from these (write-schemas.ts) and
 * a test keeps them equal; the dataset sink validates what it receives with
 * the same definitions.
 *
 * Compatibility rule (docs/uplink.md): within a `schemaVersion`, fields are
 * only ever added, and consumers ignore fields they do not know (objects are
 * open). Removing, renaming or retyping a field means schemaVersion 2.
 */

const id = z.string().min(1).max(128);
const hostId = z.string().regex(/^[A-Za-z0-9_-]+$/);
const time = z.iso.datetime({ offset: true }).describe('ISO 8601 UTC time');

const box = z.looseObject({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }).describe('normalised 0..1 of the frame');

export const findingWire = z.looseObject({
  label: z.string(),
  score: z.number().min(0).max(1),
  box: box.optional(),
  heatMap: z
    .looseObject({
      width: z.number().int().min(1),
      height: z.number().int().min(1),
      region: box,
      data: z.base64().describe('width * height unsigned bytes, row-major, 0..255'),
    })
    .optional(),
});

const sha256 = z.string().regex(/^[0-9a-f]{64}$/).describe('SHA-256 of the image bytes, lower-case hex');

/** The frame as captured: inline (base64), by reference (URL to the gateway API), or missing. */
export const imageWire = z.discriminatedUnion('transfer', [
  z.looseObject({
    transfer: z.literal('inline'),
    mediaType: z.string(),
    bytes: z.number().int().min(0),
    sha256,
    data: z.base64(),
  }),
  z.looseObject({
    transfer: z.literal('reference'),
    mediaType: z.string(),
    bytes: z.number().int().min(0),
    sha256,
    url: z.url({ protocol: /^https?$/ }),
    reason: z
      .enum(['configured', 'over-inline-cap', 'over-broker-limit'])
      .describe('configured: the gateway sends references; over-inline-cap, over-broker-limit: too large to inline'),
  }),
  z.looseObject({
    transfer: z.literal('missing'),
    reason: z
      .enum(['not-stored', 'pruned', 'unreadable'])
      .describe('not-stored: the gateway could not store it (disk full); pruned: retention deleted it; unreadable: the file failed to read'),
  }),
]);

const modelView = z.looseObject({
  id: z.string(),
  version: z.string(),
  verdict: z.enum(['pass', 'fail', 'review']).nullable().describe("the verdict the model's policy gave at once; null when inspection failed"),
  defectScore: z.number().min(0).max(1).nullable(),
  findings: z.array(findingWire),
});

const origin = {
  site: hostId,
  line: hostId,
  gatewayId: hostId,
  station: hostId,
};

export const correctionWire = z
  .looseObject({
    schema: z.literal('loupe.correction'),
    schemaVersion: z.literal(1),
    correctionId: id.describe('the decision id the HMI made: unique and stable across resends; consumers dedupe on it'),
    ...origin,
    partId: z.string(),
    inspectionId: id,
    sourceRef: z.string().nullable().describe('file name, URL or synthetic index the frame came from'),
    triggeredAt: time,
    decidedAt: time,
    model: modelView,
    operator: z.looseObject({
      id: z.string().nullable(),
      verdict: z.enum(['pass', 'fail']),
      defectClass: z.string().nullable().describe("one of the model's defect labels, or other; null for pass"),
      note: z.string().nullable(),
    }),
    audit: z.boolean().describe('a confident verdict sampled for review, to measure escapes'),
    agreed: z.boolean().nullable().describe("the operator agreed with the model's confident verdict; null when the model asked for review"),
    image: imageWire,
  })
  .meta({ title: 'Loupe correction v1', description: 'An operator decision on one part, as training data.' });

export const inspectionWire = z
  .looseObject({
    schema: z.literal('loupe.inspection'),
    schemaVersion: z.literal(1),
    inspectionId: id,
    ...origin,
    partId: z.string(),
    sourceRef: z.string().nullable(),
    triggeredAt: time,
    trigger: z.enum(['interval', 'file', 'api', 'plc']),
    model: modelView,
    verdict: z.enum(['pass', 'fail', 'review']).nullable().describe('verdict standing when the sample was taken (review until an operator decides)'),
    decidedBy: z.enum(['model', 'operator', 'timeout']).nullable(),
    state: z.enum(['decided', 'awaiting-review', 'reviewed', 'timed-out', 'error']),
    audit: z.boolean(),
    reason: z.string(),
    errorCode: z.string().nullable(),
    timings: z.record(z.string(), z.number()),
    image: imageWire,
  })
  .meta({ title: 'Loupe inspection v1', description: 'One sampled inspection as the model saw it.' });

export const statusWire = z
  .looseObject({
    schema: z.literal('loupe.status'),
    schemaVersion: z.literal(1),
    site: hostId,
    line: hostId,
    gatewayId: hostId,
    state: z.enum(['online', 'offline']).describe('retained; the broker publishes offline as the Last Will when the gateway vanishes'),
    reason: z.enum(['connected', 'stopped', 'connection-lost']).describe('connected: online; stopped: clean shutdown; connection-lost: the Last Will'),
    at: time.describe('when the message was made; for the Last Will, when the connection it covers was opened'),
    stations: z.array(hostId),
    software: z.looseObject({ name: z.string(), version: z.string() }),
  })
  .meta({ title: 'Loupe gateway status v1', description: 'Retained online/offline state of one gateway.' });

export const metricsWire = z
  .looseObject({
    schema: z.literal('loupe.metrics'),
    schemaVersion: z.literal(1),
    site: hostId,
    line: hostId,
    gatewayId: hostId,
    at: time,
    uplink: z.looseObject({
      backlog: z.number().int().min(0),
      oldestAgeS: z.number().min(0),
      alarm: z.enum(['ok', 'warn', 'full']),
      published: z.number().int().min(0).describe('messages acknowledged since the gateway started'),
    }),
    stations: z
      .record(hostId, z.looseObject({ parts: z.record(z.string(), z.number().int().min(0)) }))
      .describe('parts since the gateway started, by station and first verdict'),
  })
  .meta({ title: 'Loupe gateway metrics v1', description: 'Periodic counters of one gateway (QoS 0, not retained).' });

export type CorrectionWire = z.infer<typeof correctionWire>;
export type InspectionWire = z.infer<typeof inspectionWire>;
export type StatusWire = z.infer<typeof statusWire>;
export type MetricsWire = z.infer<typeof metricsWire>;
export type ImageWire = z.infer<typeof imageWire>;

/** Each payload and the file its JSON Schema lives in (gateway/src/uplink/schemas/). */
export const wireSchemas = {
  'correction.v1.schema.json': correctionWire,
  'inspection.v1.schema.json': inspectionWire,
  'status.v1.schema.json': statusWire,
  'metrics.v1.schema.json': metricsWire,
} as const;

/** The JSON Schema text of one payload, as committed. */
export function jsonSchemaText(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'output',
    // format and contentEncoding say it; the long regexes behind them only obscure the file.
    override: (ctx) => {
      if (ctx.jsonSchema.format === 'date-time' || ctx.jsonSchema.contentEncoding === 'base64') delete ctx.jsonSchema.pattern;
    },
  });
  return `${JSON.stringify(json, null, 2)}\n`;
}
