import { z } from 'zod';

/**
 * `model.json`: everything the gateway needs to feed a model and read its
 * outputs. Nothing outside `vision/` knows tensor names or layouts; they live here.
 */

const inputSpec = z.strictObject({
  /** Input tensor name in the ONNX graph. */
  name: z.string().min(1),
  width: z.number().int().min(8).max(8192),
  height: z.number().int().min(8).max(8192),
  layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
  colorOrder: z.enum(['RGB', 'BGR', 'GRAY']).default('RGB'),
  dtype: z.enum(['float32', 'uint8']).default('float32'),
  /** Pixel value is multiplied by this before mean/std (1/255 maps 0..255 to 0..1). */
  scale: z.number().positive().default(1 / 255),
  mean: z.array(z.number()).min(1).max(3).default([0, 0, 0]),
  std: z.array(z.number().positive()).min(1).max(3).default([1, 1, 1]),
  /** stretch: ignore aspect; letterbox: fit and pad (YOLO); crop: fill and centre-crop. */
  resize: z.enum(['stretch', 'letterbox', 'crop']).default('stretch'),
  /** Grey value used to pad in letterbox mode (0..255). */
  padValue: z.number().int().min(0).max(255).default(114),
});

const classificationOutputs = z.strictObject({
  task: z.literal('classification'),
  /** Output with one score per label, shape [1, labels]. */
  scores: z.string().min(1),
  /** How raw scores become probabilities. */
  activation: z.enum(['softmax', 'sigmoid', 'none']).default('softmax'),
  /** Optional defect heat map output, shape [1, 1, h, w], values 0..1 after `heatMapActivation`. */
  heatMap: z.string().min(1).optional(),
  heatMapActivation: z.enum(['sigmoid', 'none']).default('none'),
});

const anomalyOutputs = z.strictObject({
  task: z.literal('anomaly'),
  /** anomalib's exported names: `anomaly_map` [1,1,H,W] and `pred_score` [1] or [1,1]. */
  map: z.string().min(1).default('anomaly_map'),
  score: z.string().min(1).default('pred_score'),
  /**
   * anomalib's min-max normalisation: value -> ((v - threshold) / (max - min)) + 0.5,
   * clipped to 0..1, so the threshold lands on 0.5. Separate thresholds for image score and map.
   */
  normalization: z.strictObject({
    imageThreshold: z.number(),
    pixelThreshold: z.number(),
    min: z.number(),
    max: z.number(),
  }),
  /** Label reported for an anomalous part. */
  anomalyLabel: z.string().min(1).default('anomaly'),
});

const detectionOutputs = z.strictObject({
  task: z.literal('detection'),
  /** Ultralytics YOLOv8+ export: [1, 4 + classes, candidates], boxes as cx, cy, w, h in input pixels. */
  output: z.string().min(1).default('output0'),
  format: z.literal('yolov8').default('yolov8'),
  /** Candidates under this confidence are dropped before NMS. */
  minScore: z.number().min(0).max(1).default(0.25),
  iouThreshold: z.number().min(0).max(1).default(0.45),
  maxDetections: z.number().int().min(1).max(1000).default(100),
});

export const modelManifestSchema = z.strictObject({
  schemaVersion: z.literal(1),
  /** Stable model id: same id across versions of one station's model. */
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  version: z.string().min(1),
  description: z.string().default(''),
  input: inputSpec,
  outputs: z.discriminatedUnion('task', [classificationOutputs, anomalyOutputs, detectionOutputs]),
  /** Class labels in output order. For classification, includes `goodLabel`. */
  labels: z.array(z.string().min(1)).min(1),
  /** Label meaning "no defect" (classification only). */
  goodLabel: z.string().default('good'),
  /** Suggested policy thresholds; the station config may override them. */
  thresholds: z
    .strictObject({
      passBelow: z.number().min(0).max(1),
      failAtOrAbove: z.number().min(0).max(1),
    })
    .optional(),
  provenance: z
    .looseObject({
      trainingData: z.string().optional(),
      createdAt: z.string().optional(),
      command: z.string().optional(),
      metrics: z.record(z.string(), z.number()).optional(),
      parent: z.string().optional(),
    })
    .default({}),
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;
export type ModelInputSpec = ModelManifest['input'];
export type ModelOutputSpec = ModelManifest['outputs'];
