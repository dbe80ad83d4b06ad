import sharp from 'sharp';
import { errorMessage, LoupeError } from '../../errors.js';
import type { Frame } from '../frame.js';
import type { CameraStatus, FrameSource } from '../frame-source.js';
import type { SyntheticOptions } from './render-part.js';
import { renderPart } from './render-part.js';

export interface SyntheticLineOptions extends SyntheticOptions {
  /** Encoding of delivered frames. */
  format: 'png' | 'jpeg';
  /** JPEG quality 1..100. Default 90. */
  jpegQuality?: number;
  /** Index of the first part grabbed. Default 0. */
  startIndex?: number;
}

/**
 * A production line that exists only in software: every grab renders the
 * next part, with its ground truth, so the whole gateway can run and be
 * measured without a camera.
 */
export class SyntheticLine implements FrameSource {
  readonly type = 'synthetic';
  private readonly options: SyntheticLineOptions;
  private nextIndex: number;
  private state: CameraStatus['state'] = 'stopped';
  private lastError: string | null = null;
  private framesGrabbed = 0;
  private framesFailed = 0;

  constructor(options: SyntheticLineOptions) {
    this.options = options;
    this.nextIndex = options.startIndex ?? 0;
  }

  async open(): Promise<void> {
    this.state = 'ok';
  }

  async grab(signal?: AbortSignal): Promise<Frame> {
    if (this.state === 'stopped') throw new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', 'synthetic line is not open');
    signal?.throwIfAborted();
    const index = this.nextIndex++;
    const capturedAt = new Date();
    try {
      const part = renderPart(index, this.options);
      const raw = { raw: { width: part.width, height: part.height, channels: 3 as const } };
      const image = sharp(part.rgb, raw);
      const data =
        this.options.format === 'png'
          ? await image.png({ compressionLevel: 3 }).toBuffer()
          : await image.jpeg({ quality: this.options.jpegQuality ?? 90 }).toBuffer();
      const truthMask = await sharp(part.mask, { raw: { width: part.width, height: part.height, channels: 1 } })
        .toColourspace('b-w')
        .png({ compressionLevel: 3 })
        .toBuffer();
      this.framesGrabbed++;
      this.lastError = null;
      return { data, capturedAt, sourceRef: `synthetic:${index}`, truth: part.truth, truthMask };
    } catch (err) {
      this.framesFailed++;
      this.lastError = errorMessage(err);
      throw new LoupeError('LOUPE_ERR_CAMERA_UNAVAILABLE', `synthetic part ${index} could not be encoded`, { cause: err });
    }
  }

  status(): CameraStatus {
    return { state: this.state, lastError: this.lastError, framesGrabbed: this.framesGrabbed, framesFailed: this.framesFailed };
  }

  async close(): Promise<void> {
    this.state = 'stopped';
  }
}
