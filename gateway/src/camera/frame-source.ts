import type { Frame } from './frame.js';

/** What the HMI and metrics show of a camera. */
export interface CameraStatus {
  state: 'starting' | 'ok' | 'degraded' | 'down' | 'stopped';
  /** Last problem, for the status screen; cleared when frames flow again. */
  lastError: string | null;
  framesGrabbed: number;
  /** Frames the source dropped or could not read (bad files, broken stream chunks). */
  framesFailed: number;
}

/**
 * A camera. Pull sources (synthetic, HTTP snapshot, ffmpeg) deliver a frame
 * when a trigger asks; push sources (folder drop) deliver frames as they
 * arrive. Implementations are chosen by `camera.type` in config (see registry.ts).
 */
export interface FrameSource {
  readonly type: string;
  open(): Promise<void>;
  /**
   * Deliver one frame now. Rejects with LOUPE_ERR_CAMERA_TIMEOUT when the
   * camera does not answer in time, LOUPE_ERR_CAMERA_PULL_UNSUPPORTED for push-only sources.
   */
  grab(signal?: AbortSignal): Promise<Frame>;
  /** Push sources only: frames as they arrive, until `signal` aborts or close(). */
  frames?(signal: AbortSignal): AsyncIterable<Frame>;
  /**
   * Called once the inspection of `frame` is committed to the store, so a
   * push source can move or mark the file (never process it twice).
   */
  settle?(frame: Frame, outcome: 'done' | 'rejected'): Promise<void>;
  status(): CameraStatus;
  close(): Promise<void>;
}
