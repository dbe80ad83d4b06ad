import { z } from 'zod';

/**
 * The model registry, shadow runs, promotion and MQTT delivery
 * (docs/model-lifecycle.md). Every key has a default: with none set, the
 * registry lives under `gateway.dataDir`, packages arrive by upload or over
 * the uplink's broker connection, and nothing runs in shadow until an
 * engineer starts it.
 */

const shadowSchema = z.strictObject({
  /** Share of parts the candidate also inspects, 0..1 (it skips parts anyway when the line is busy). Default 1. */
  sampleRate: z.number().min(0).max(1).default(1),
  /** CPU threads the candidate may use per inference; the active model comes first. 0 = ONNX Runtime's default. Default 1. */
  intraOpThreads: z.number().int().min(0).max(64).default(1),
});

const promoteSchema = z.strictObject({
  /** Parts a candidate must have inspected in shadow before it may be promoted without `force`. Default 200. */
  minShadowParts: z.number().int().min(0).max(10_000_000).default(200),
  /** Operator-confirmed parts among them (reviews and audit samples). Default 30. */
  minConfirmedParts: z.number().int().min(0).max(10_000_000).default(30),
  /** Cost of a defective part passed, in the comparison on confirmed parts. Default 10. */
  costEscape: z.number().min(0).max(1000).default(10),
  /** Cost of a good part failed. Default 3. */
  costFalseReject: z.number().min(0).max(1000).default(3),
  /** Cost of a part sent to an operator. Default 1. */
  costReview: z.number().min(0).max(1000).default(1),
});

const deliverySchema = z.strictObject({
  /** Accept packages on `<topicRoot>/v1/<site>/<line>/<station>/model` over the uplink's connection (needs uplink.enabled). Default true. */
  enabled: z.boolean().default(true),
  /** A chunked delivery still incomplete after this long is dropped. Default 24 h. */
  incompleteTimeoutH: z.number().min(0.001).max(720).default(24),
  /** Fetching a package sent by reference gives up after this long. Default 120000 ms. */
  fetchTimeoutMs: z.number().int().min(1000).max(3_600_000).default(120_000),
  /** Headers sent with that fetch (an authorization header: set it through the environment). Default {}. */
  fetchHeaders: z.record(z.string(), z.string()).default({}),
});

export const modelsSchema = z.strictObject({
  /** Folder of registered packages (`<id>/<version>/`); relative to `gateway.dataDir` unless absolute. Default models. */
  registryDir: z.string().min(1).default('models'),
  /** Largest package accepted, model.onnx + model.json + card, by upload or MQTT. Default 256 MB. */
  maxPackageMb: z.number().int().min(1).max(4096).default(256),
  /** Running a candidate beside the active model. */
  shadow: shadowSchema.prefault({}),
  /** What a promotion without `force` needs. */
  promote: promoteSchema.prefault({}),
  /** Packages arriving over MQTT. */
  delivery: deliverySchema.prefault({}),
});

export type ModelsConfig = z.infer<typeof modelsSchema>;
export type PromoteConfig = ModelsConfig['promote'];
