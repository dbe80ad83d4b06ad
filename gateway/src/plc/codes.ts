import type { ErrorCode } from '../errors.js';

/**
 * The numbers the PLC sees. Kept apart from Loupe's own error codes: a PLC
 * programmer branches on small integers, and these never change meaning.
 */

/** `Verdict` and `FinalVerdict`. 0 only before the first result. */
export const VerdictCode = {
  none: 0,
  pass: 1,
  fail: 2,
  /** Hold the part: an operator decides; the final verdict follows on FinalSeq. */
  hold: 3,
  /** No result: divert, never pass. */
  noResult: 4,
} as const;
export type VerdictCodeValue = (typeof VerdictCode)[keyof typeof VerdictCode];

/** `ResultState`, as OPC 40100 (Machine Vision) ResultStateDataType defines it. */
export const ResultState = {
  undefined: 0,
  completed: 1,
  /** Not finished: the part is held for an operator (IsPartial = true). */
  processing: 2,
  /** Stopped before completion: deadline missed, queue overrun, not ready. */
  aborted: 3,
  failed: 4,
} as const;
export type ResultStateValue = (typeof ResultState)[keyof typeof ResultState];

/** `ErrorCode`: why a part got no result (0 with every other verdict). */
export const PlcErrorCode = {
  none: 0,
  /** Triggered while Ready was 0 (Enable low, PLC heartbeat stale, recipe loading, halted). */
  notReady: 1,
  /** The result was not known within the station's deadlineMs. */
  deadline: 2,
  /** More unacknowledged results than plc.client.resultQueueDepth. */
  overrun: 3,
  /** The station's trigger queue was full. */
  stationBusy: 4,
  stationStopped: 5,
  camera: 10,
  frameDecode: 11,
  model: 20,
  store: 30,
  recipeUnknown: 40,
  recipeLoad: 41,
  internal: 99,
} as const;
export type PlcErrorCodeValue = (typeof PlcErrorCode)[keyof typeof PlcErrorCode];

const fromLoupe: Partial<Record<ErrorCode, PlcErrorCodeValue>> = {
  LOUPE_ERR_PLC_NOT_READY: PlcErrorCode.notReady,
  LOUPE_ERR_PLC_DEADLINE: PlcErrorCode.deadline,
  LOUPE_ERR_PLC_OVERRUN: PlcErrorCode.overrun,
  LOUPE_ERR_STATION_BUSY: PlcErrorCode.stationBusy,
  LOUPE_ERR_STATION_STOPPED: PlcErrorCode.stationStopped,
  LOUPE_ERR_CAMERA_TIMEOUT: PlcErrorCode.camera,
  LOUPE_ERR_CAMERA_UNAVAILABLE: PlcErrorCode.camera,
  LOUPE_ERR_CAMERA_PULL_UNSUPPORTED: PlcErrorCode.camera,
  LOUPE_ERR_FFMPEG_MISSING: PlcErrorCode.camera,
  LOUPE_ERR_FRAME_DECODE: PlcErrorCode.frameDecode,
  LOUPE_ERR_INFERENCE: PlcErrorCode.model,
  LOUPE_ERR_MODEL_LOAD: PlcErrorCode.model,
  LOUPE_ERR_MODEL_MISMATCH: PlcErrorCode.model,
  LOUPE_ERR_STORE_WRITE: PlcErrorCode.store,
  LOUPE_ERR_STORE_DISK_FULL: PlcErrorCode.store,
  LOUPE_ERR_PLC_RECIPE: PlcErrorCode.recipeUnknown,
};

/** The PLC's number for a Loupe error code (from an Inspection's errorCode or a LoupeError). */
export function plcErrorCode(code: string | null | undefined): PlcErrorCodeValue {
  if (!code) return PlcErrorCode.internal;
  return fromLoupe[code as ErrorCode] ?? PlcErrorCode.internal;
}
