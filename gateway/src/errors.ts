/**
 * Every error Loupe raises on purpose, in one table. A code is never reused
 * for another meaning; tests assert codes, never message wording.
 */

interface ErrorSpec {
  /** HTTP status when the error reaches the API. */
  status: number;
  /** Default message when the raiser gives none. */
  message: string;
}

const table = {
  // config
  LOUPE_ERR_CONFIG_INVALID: { status: 500, message: 'configuration is invalid' },
  LOUPE_ERR_CONFIG_READ: { status: 500, message: 'configuration file cannot be read' },
  // camera
  LOUPE_ERR_CAMERA_TIMEOUT: { status: 504, message: 'camera did not deliver a frame in time' },
  LOUPE_ERR_CAMERA_UNAVAILABLE: { status: 503, message: 'camera is not available' },
  LOUPE_ERR_CAMERA_PULL_UNSUPPORTED: { status: 409, message: 'this camera only delivers frames it is sent' },
  LOUPE_ERR_CAMERA_SETTLE: { status: 500, message: 'camera file cannot be moved after processing' },
  LOUPE_ERR_FFMPEG_MISSING: { status: 500, message: 'ffmpeg is not installed' },
  LOUPE_ERR_FRAME_DECODE: { status: 422, message: 'frame is not a readable image' },
  // vision
  LOUPE_ERR_MODEL_MISSING: { status: 500, message: 'model package not found' },
  LOUPE_ERR_MODEL_MANIFEST: { status: 500, message: 'model.json is invalid' },
  LOUPE_ERR_MODEL_MISMATCH: { status: 500, message: 'model tensors do not match model.json' },
  LOUPE_ERR_MODEL_LOAD: { status: 500, message: 'ONNX Runtime cannot load the model' },
  LOUPE_ERR_INFERENCE: { status: 500, message: 'inference failed' },
  // inspect
  LOUPE_ERR_STATION_UNKNOWN: { status: 404, message: 'no such station' },
  LOUPE_ERR_STATION_STOPPED: { status: 409, message: 'station is not running' },
  LOUPE_ERR_STATION_BUSY: { status: 429, message: 'station queue is full' },
  // store
  LOUPE_ERR_STORE_SCHEMA: { status: 500, message: 'database schema is newer than this gateway' },
  LOUPE_ERR_STORE_DISK_FULL: { status: 507, message: 'image store is out of disk space' },
  LOUPE_ERR_STORE_WRITE: { status: 500, message: 'store write failed' },
  LOUPE_ERR_NOT_FOUND: { status: 404, message: 'not found' },
  // api
  LOUPE_ERR_API_BAD_REQUEST: { status: 400, message: 'request is invalid' },
  // review
  LOUPE_ERR_REVIEW_NOT_PENDING: { status: 404, message: 'part is not waiting for review' },
  LOUPE_ERR_REVIEW_ALREADY_DECIDED: { status: 409, message: 'part was already decided' },
  LOUPE_ERR_REVIEW_INVALID: { status: 400, message: 'decision is invalid' },
  // auth
  LOUPE_ERR_AUTH_REQUIRED: { status: 401, message: 'log in first' },
  LOUPE_ERR_AUTH_INVALID: { status: 401, message: 'operator id or PIN is wrong' },
  LOUPE_ERR_AUTH_LOCKED_OUT: { status: 429, message: 'too many wrong PINs: this operator is locked out for a while' },
  LOUPE_ERR_AUTH_SESSION_LOCKED: { status: 401, message: 'screen locked after inactivity: enter the PIN again' },
  LOUPE_ERR_AUTH_DISABLED: { status: 403, message: 'this operator is disabled' },
  LOUPE_ERR_AUTH_FORBIDDEN: { status: 403, message: 'your role does not allow this' },
  LOUPE_ERR_AUTH_PIN_POLICY: { status: 400, message: 'PIN must be 4 to 12 digits' },
  LOUPE_ERR_AUTH_USER_EXISTS: { status: 409, message: 'an operator with this id exists' },
  LOUPE_ERR_AUTH_LAST_ADMIN: { status: 409, message: 'the last active admin cannot be disabled or demoted' },
  // uplink
  LOUPE_ERR_UPLINK_CONNECT: { status: 503, message: 'MQTT broker cannot be reached' },
  LOUPE_ERR_UPLINK_AUTH: { status: 503, message: 'MQTT broker refused the credentials' },
  LOUPE_ERR_UPLINK_TLS: { status: 503, message: 'TLS with the MQTT broker failed' },
  LOUPE_ERR_UPLINK_PROTOCOL: { status: 503, message: 'MQTT broker does not speak the configured protocol version' },
  LOUPE_ERR_UPLINK_CLIENT_ID: { status: 503, message: 'MQTT client id refused or taken over by another client' },
  LOUPE_ERR_UPLINK_REFUSED: { status: 503, message: 'MQTT broker refused a message' },
  LOUPE_ERR_UPLINK_OUTBOX_FULL: { status: 507, message: 'uplink outbox is over its budget' },
  LOUPE_ERR_UPLINK_PAYLOAD: { status: 422, message: 'message does not match the uplink payload schema' },
  LOUPE_ERR_UPLINK_IMAGE: { status: 422, message: 'image of a correction is missing or corrupt' },
  LOUPE_ERR_UPLINK_SINK_WRITE: { status: 500, message: 'dataset sink cannot write' },
  // plc
  LOUPE_ERR_PLC_CONNECT: { status: 503, message: 'PLC OPC UA server is not reachable' },
  LOUPE_ERR_PLC_AUTH: { status: 503, message: 'PLC refused the OPC UA user name or password' },
  LOUPE_ERR_PLC_CERT_UNTRUSTED: { status: 503, message: 'OPC UA certificate is not trusted' },
  LOUPE_ERR_PLC_SECURITY: { status: 503, message: 'PLC does not offer the configured security mode and policy' },
  LOUPE_ERR_PLC_TAG_MISSING: { status: 500, message: 'a tag of the PLC interface block does not exist' },
  LOUPE_ERR_PLC_TAG_TYPE: { status: 500, message: 'a PLC tag is declared with a data type the handshake cannot use' },
  LOUPE_ERR_PLC_TAG_ACCESS: { status: 500, message: 'a PLC tag cannot be read or written by the Loupe user' },
  LOUPE_ERR_PLC_IO: { status: 502, message: 'reading or writing PLC tags failed' },
  LOUPE_ERR_PLC_NOT_READY: { status: 409, message: 'vision system is not ready for a part' },
  LOUPE_ERR_PLC_DEADLINE: { status: 504, message: 'result missed the PLC deadline' },
  LOUPE_ERR_PLC_OVERRUN: { status: 503, message: 'PLC does not acknowledge results fast enough' },
  LOUPE_ERR_PLC_RECIPE: { status: 409, message: 'recipe from the PLC is unknown or cannot be loaded' },
  LOUPE_ERR_PLC_SERVER: { status: 500, message: 'Loupe\'s OPC UA server cannot start' },
  // engineer api
  LOUPE_ERR_API_FILTER_INVALID: { status: 400, message: 'filter is invalid' },
  LOUPE_ERR_API_CURSOR_INVALID: { status: 400, message: 'cursor is invalid: start again without one' },
  LOUPE_ERR_AUTH_TOKEN_INVALID: { status: 401, message: 'API token is unknown, revoked or expired' },
  LOUPE_ERR_AUTH_TOKEN_SCOPE: { status: 403, message: 'API token scope does not allow this' },
  LOUPE_ERR_IMAGE_UNREADABLE: { status: 422, message: 'stored image cannot be decoded for an overlay' },
  LOUPE_ERR_EXPORT_TOO_LARGE: { status: 413, message: 'too many inspections for one ZIP export' },
  LOUPE_ERR_EXPORT_BUSY: { status: 429, message: 'as many exports as http.maxConcurrentExports are running: try again shortly' },
  // model registry
  LOUPE_ERR_MODEL_REFUSED: { status: 422, message: 'model package refused' },
  LOUPE_ERR_MODEL_HASH: { status: 422, message: 'model.onnx does not match the sha256 it came with' },
  LOUPE_ERR_MODEL_TOO_LARGE: { status: 413, message: 'model package is larger than models.maxPackageMb' },
  LOUPE_ERR_MODEL_PACKAGE: { status: 422, message: 'model package is incomplete or not encoded as expected' },
  LOUPE_ERR_MODEL_TEST_INFERENCE: { status: 422, message: 'model package failed its test inference' },
  LOUPE_ERR_MODEL_VERSION_CONFLICT: { status: 409, message: 'another package with this model id and version is registered' },
  LOUPE_ERR_MODEL_UNKNOWN: { status: 404, message: 'no such model package in the registry' },
  LOUPE_ERR_MODEL_ALREADY_ACTIVE: { status: 409, message: 'this package is already the active model of the station' },
  LOUPE_ERR_MODEL_NO_ROLLBACK: { status: 409, message: 'nothing to roll back to' },
  LOUPE_ERR_MODEL_PROMOTE_GATE: { status: 409, message: 'shadow evidence does not support promoting this package' },
  LOUPE_ERR_MODEL_SWITCH_CONFLICT: { status: 409, message: 'the station runs a model it was switched to elsewhere (a PLC recipe)' },
  LOUPE_ERR_MODEL_BUSY: { status: 409, message: 'another model action on this station is in progress' },
  LOUPE_ERR_MODEL_SHADOW_RUNNING: { status: 409, message: 'a shadow run is already going on this station' },
  LOUPE_ERR_MODEL_SHADOW_NONE: { status: 404, message: 'no shadow run on this station' },
  LOUPE_ERR_MODEL_DELIVERY: { status: 422, message: 'model delivery message is invalid' },
  // anything not foreseen: a bug, logged with its stack
  LOUPE_ERR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof table;

export class LoupeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Structured context for logs and API bodies (never secrets). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message ?? table[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LoupeError';
    this.code = code;
    this.status = table[code].status;
    this.details = options?.details;
  }
}

export function isLoupeError(err: unknown, code?: ErrorCode): err is LoupeError {
  return err instanceof LoupeError && (code === undefined || err.code === code);
}

/** Message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
