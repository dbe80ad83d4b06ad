import type { Logger } from 'pino';
import type { HttpSnapshotCameraConfig } from '../config/sections/camera.js';
import { errorMessage, LoupeError } from '../errors.js';
import type { Frame } from './frame.js';
import type { CameraStatus, FrameSource } from './frame-source.js';
import { sniffImageType } from './image-type.js';
import { redactUrl } from './redact-url.js';

/** Consecutive failed grabs after which the camera shows as down rather than degraded. */
const DOWN_AFTER_FAILURES = 3;

/**
 * An IP camera's still-image URL (`/snapshot.jpg`, `/cgi-bin/snapshot.cgi`):
 * one GET per trigger. The camera exposes when asked, so the frame is as
 * fresh as the request.
 */
export class HttpSnapshot implements FrameSource {
  readonly type = 'http-snapshot';
  private readonly config: HttpSnapshotCameraConfig;
  private readonly log: Logger;
  /** Without user info: fetch refuses URLs that carry credentials. */
  private readonly url: string;
  /** Safe to log and store. */
  private readonly publicUrl: string;
  private readonly headers: Record<string, string>;

  private state: CameraStatus['state'] = 'stopped';
  private lastError: string | null = null;
  private framesGrabbed = 0;
  private framesFailed = 0;
  private consecutiveFailures = 0;

  constructor(config: HttpSnapshotCameraConfig, log: Logger) {
    this.config = config;
    const url = new URL(config.url);
    // Credentials in the URL are a common way to configure cameras; config fields win when both are given.
    const username = config.username ?? decodeURIComponent(url.username);
    const password = config.password ?? decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
    this.url = url.toString();
    this.publicUrl = redactUrl(this.url);
    this.log = log.child({ camera: this.type, url: this.publicUrl });
    const auth: Record<string, string> = username === '' ? {} : { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
    this.headers = { accept: 'image/*', ...auth, ...config.headers };
  }

  async open(): Promise<void> {
    // No probe: a camera that is off at start-up must not stop the gateway; the first grab tells.
    if (this.state === 'stopped') this.state = 'starting';
  }

  async grab(signal?: AbortSignal): Promise<Frame> {
    if (this.state === 'stopped') throw new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', 'http snapshot camera is not open');
    signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(this.config.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const frame = await this.fetchFrame(combined);
      this.succeeded();
      return frame;
    } catch (err) {
      // The caller gave up (station stopping): not the camera's fault.
      if (signal?.aborted) throw signal.reason;
      const failure = timeout.aborted
        ? new LoupeError('LOUPE_ERR_CAMERA_TIMEOUT', `${this.publicUrl} sent no image within ${this.config.timeoutMs} ms`, { cause: err })
        : err instanceof LoupeError
          ? err
          : new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', `${this.publicUrl} cannot be reached: ${errorMessage(causeOf(err))}`, { cause: err });
      this.failed(failure);
      throw failure;
    }
  }

  status(): CameraStatus {
    return { state: this.state, lastError: this.lastError, framesGrabbed: this.framesGrabbed, framesFailed: this.framesFailed };
  }

  async close(): Promise<void> {
    this.state = 'stopped';
  }

  private async fetchFrame(signal: AbortSignal): Promise<Frame> {
    const res = await fetch(this.url, { headers: this.headers, signal });
    const capturedAt = new Date();
    if (!res.ok) {
      // Free the connection for the next grab.
      await res.body?.cancel().catch(() => undefined);
      const hint = res.status === 401 || res.status === 403 ? ' (check camera.username and camera.password)' : '';
      throw new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', `${this.publicUrl} answered HTTP ${res.status}${hint}`, { details: { status: res.status } });
    }
    const data = Buffer.from(await res.arrayBuffer());
    // Magic bytes decide, not content-type: cameras label JPEGs application/octet-stream and error pages image/jpeg.
    if (sniffImageType(data) === null) {
      const contentType = res.headers.get('content-type') ?? 'none';
      throw new LoupeError('LOUPE_ERR_FRAME_DECODE', `${this.publicUrl} answered ${data.length} bytes of ${contentType} that are not a JPEG, PNG, BMP, TIFF or WebP image`, {
        details: { contentType, bytes: data.length },
      });
    }
    return { data, capturedAt, sourceRef: this.publicUrl };
  }

  private succeeded(): void {
    this.framesGrabbed++;
    if (this.state === 'stopped') return; // closed while the request was under way
    if (this.state !== 'ok' && this.state !== 'starting') this.log.info({ failures: this.consecutiveFailures }, 'camera answers again');
    this.consecutiveFailures = 0;
    this.state = 'ok';
    this.lastError = null;
  }

  private failed(err: LoupeError): void {
    this.framesFailed++;
    this.consecutiveFailures++;
    this.lastError = err.message;
    if (this.state === 'stopped') return;
    const next = this.consecutiveFailures >= DOWN_AFTER_FAILURES ? 'down' : 'degraded';
    if (next !== this.state) this.log[next === 'down' ? 'error' : 'warn']({ code: err.code, err: err.message }, `camera ${next}`);
    this.state = next;
  }
}

/** fetch hides the socket error (ECONNREFUSED, ENOTFOUND) behind "fetch failed". */
function causeOf(err: unknown): unknown {
  return err instanceof Error && err.cause !== undefined ? err.cause : err;
}
