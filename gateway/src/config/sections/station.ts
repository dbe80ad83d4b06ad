import { z } from 'zod';
import { cameraSchema } from './camera.js';

const trigger = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('interval'),
    /** Time between parts on a free-running line. Default 500 ms. */
    intervalMs: z.number().int().min(1).max(3_600_000).default(500),
  }),
  /** One part per new file (folder camera only). */
  z.strictObject({ type: z.literal('file') }),
  /** Parts are triggered only through the API (POST /api/stations/:id/trigger). */
  z.strictObject({ type: z.literal('api') }),
  /** Parts are triggered by the PLC handshake (plc.client must be enabled). */
  z.strictObject({ type: z.literal('plc') }),
]);

const executionProvider = z.enum(['cuda', 'tensorrt', 'cpu']);

const model = z.strictObject({
  /** Model package folder (model.onnx + model.json); relative paths resolve against the working directory. */
  path: z.string().min(1).default('models/demo-part'),
  /** Execution providers in order of preference; the first that loads is used. Default [cuda, cpu]. */
  providers: z.array(executionProvider).min(1).default(['cuda', 'cpu']),
  /** CPU threads ONNX Runtime uses inside one inference (0 = its own default). Default 0. */
  intraOpThreads: z.number().int().min(0).max(256).default(0),
  /** Inferences run at start so the first real part is not slow. Default 3. */
  warmupRuns: z.number().int().min(0).max(100).default(3),
});

const policy = z
  .strictObject({
    /** Defect score below this passes at once. Default: the model's own, else 0.2. */
    passBelow: z.number().min(0).max(1).optional(),
    /** Defect score at or above this fails at once. Default: the model's own, else 0.8. */
    failAtOrAbove: z.number().min(0).max(1).optional(),
    /** Share of confident verdicts also sent to review, to measure escapes. Default 0.02. */
    auditRate: z.number().min(0).max(1).default(0.02),
    /** Per-class fail thresholds that override failAtOrAbove for that class. */
    classFailAtOrAbove: z.record(z.string(), z.number().min(0).max(1)).default({}),
  })
  .refine((p) => p.passBelow === undefined || p.failAtOrAbove === undefined || p.passBelow <= p.failAtOrAbove, {
    message: 'passBelow must not exceed failAtOrAbove',
    path: ['passBelow'],
  });

const review = z.strictObject({
  /** A part waiting longer than this gets `safeVerdict`. Default 120000 ms. */
  timeoutMs: z.number().int().min(1000).max(86_400_000).default(120_000),
  /** Verdict a timed-out review falls back to. Default fail (divert: never pass what nobody judged). */
  safeVerdict: z.enum(['pass', 'fail']).default('fail'),
});

export const stationSchema = z.strictObject({
  /** Station id: used in topics, node ids and URLs. */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lower-case letters, digits and dashes, up to 32'),
  /** Name shown to operators. Default: the id. */
  name: z.string().optional(),
  camera: cameraSchema.prefault({ type: 'synthetic' }),
  trigger: trigger.prefault({ type: 'interval' }),
  model: model.prefault({}),
  policy: policy.prefault({}),
  review: review.prefault({}),
  /** Parts processed at once; later triggers wait. 2 overlaps decoding with inference. Default 2. */
  maxInFlight: z.number().int().min(1).max(16).default(2),
  /** Triggers waiting beyond the in-flight ones; further triggers are counted as missed. Default 8. */
  maxQueued: z.number().int().min(0).max(1000).default(8),
  /** A part not decided within this budget gets no pass (PLC deadline). Default 2000 ms. */
  deadlineMs: z.number().int().min(10).max(600_000).default(2000),
});

export type StationConfig = z.infer<typeof stationSchema>;
export type TriggerConfig = StationConfig['trigger'];
export type ModelConfig = StationConfig['model'];
export type PolicyConfig = StationConfig['policy'];
export type ExecutionProviderName = z.infer<typeof executionProvider>;
