import { z } from 'zod';

/** Camera kinds, one per FrameSource implementation in camera/ (chosen by `type`). */

const synthetic = z.strictObject({
  type: z.literal('synthetic'),
  /** Seed of the simulated line: the same seed renders the same parts. Default 1. */
  seed: z.number().int().min(0).default(1),
  /** Frame width in pixels. Default 256. */
  widthPx: z.number().int().min(32).max(4096).default(256),
  /** Frame height in pixels. Default 256. */
  heightPx: z.number().int().min(32).max(4096).default(256),
  /** Share of parts that carry a defect, 0..1. Default 0.15. */
  defectRate: z.number().min(0).max(1).default(0.15),
  /** Defect kinds the line injects. Default: all kinds the renderer knows. */
  defectKinds: z
    .array(z.enum(['scratch', 'dent', 'crack', 'contamination', 'missing_hole']))
    .min(1)
    .default(['scratch', 'dent', 'crack', 'contamination', 'missing_hole']),
  /** Light level multiplier (simulates lighting drift). Default 1. */
  brightness: z.number().min(0.1).max(3).default(1),
  /** Per-channel colour multipliers [r, g, b] (simulates a lamp or filter change). Default [1, 1, 1]. */
  tint: z.tuple([z.number().min(0).max(3), z.number().min(0).max(3), z.number().min(0).max(3)]).default([1, 1, 1]),
  /** Encoding of delivered frames; JPEG like most industrial cameras, and like the demo model's training data. Default jpeg. */
  format: z.enum(['png', 'jpeg']).default('jpeg'),
  /** JPEG quality 1..100 (the demo model was trained on 90). Default 90. */
  jpegQuality: z.number().int().min(1).max(100).default(90),
});

const folder = z.strictObject({
  type: z.literal('folder'),
  /** Directory the smart camera or FTP server writes images into. */
  path: z.string().min(1),
  /** File name patterns taken as images; others are moved to `rejected/`. Default common image extensions. */
  extensions: z.array(z.string().regex(/^\.[a-z0-9]+$/i)).min(1).default(['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp']),
  /** A file counts as complete once its size has not changed for this long. Default 300 ms. */
  stableMs: z.number().int().min(0).max(60_000).default(300),
  /** How often the folder is rescanned besides change events. Default 1000 ms. */
  pollMs: z.number().int().min(50).max(60_000).default(1000),
  /** What happens to a processed file: moved into `processed/` or deleted. Default move. */
  afterProcessing: z.enum(['move', 'delete']).default('move'),
});

const httpSnapshot = z.strictObject({
  type: z.literal('http-snapshot'),
  /** Snapshot URL that returns one still image per GET. */
  url: z.url({ protocol: /^https?$/ }),
  /** Give up on a snapshot after this long. Default 2000 ms. */
  timeoutMs: z.number().int().min(50).max(60_000).default(2000),
  /** Basic auth user (password from `password` or LOUPE_STATIONS__<n>__CAMERA__PASSWORD). */
  username: z.string().optional(),
  password: z.string().optional(),
  /** Extra request headers (e.g. a bearer token). */
  headers: z.record(z.string(), z.string()).default({}),
});

const ffmpeg = z
  .strictObject({
    type: z.literal('ffmpeg'),
    /** Anything ffmpeg reads: rtsp://, http(s):// MJPEG, /dev/video0 (with inputFormat v4l2), or a file. */
    input: z.string().min(1),
    /** ffmpeg `-f` for the input (e.g. v4l2). Default: let ffmpeg probe. */
    inputFormat: z.string().optional(),
    /** Path or name of the ffmpeg binary. Default `ffmpeg` on PATH. */
    ffmpegPath: z.string().default('ffmpeg'),
    /** RTSP transport. Default tcp (robust across plant networks). */
    rtspTransport: z.enum(['tcp', 'udp']).default('tcp'),
    /** Frames per second to decode from the stream (ffmpeg fps filter). Default 5. */
    fps: z.number().min(0.1).max(120).default(5),
    /** Loop a video file forever (for replaying recordings). Default false. */
    loop: z.boolean().default(false),
    /** A grab fails when no fresh frame arrived for this long. Default 3000 ms. */
    frameTimeoutMs: z.number().int().min(100).max(60_000).default(3000),
    /** First reconnect delay; doubles per failure up to `reconnectMaxMs`. Default 500 ms. */
    reconnectMinMs: z.number().int().min(50).default(500),
    /** Longest reconnect delay. Default 30000 ms. */
    reconnectMaxMs: z.number().int().min(100).default(30_000),
  })
  .refine((c) => c.reconnectMaxMs >= c.reconnectMinMs, {
    path: ['reconnectMaxMs'],
    message: 'expected reconnectMaxMs >= reconnectMinMs',
  });

export const cameraSchema = z.discriminatedUnion('type', [synthetic, folder, httpSnapshot, ffmpeg]);
export type CameraConfig = z.infer<typeof cameraSchema>;
export type SyntheticCameraConfig = z.infer<typeof synthetic>;
export type FolderCameraConfig = z.infer<typeof folder>;
export type HttpSnapshotCameraConfig = z.infer<typeof httpSnapshot>;
export type FfmpegCameraConfig = z.infer<typeof ffmpeg>;
