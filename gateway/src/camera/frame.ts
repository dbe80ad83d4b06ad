import type { GroundTruth } from '../inspect/inspection.js';

/** One image as a camera delivered it, still encoded. */
export interface Frame {
  /** Encoded bytes (JPEG, PNG, BMP, TIFF or WebP): decoding is the pipeline's job. */
  data: Buffer;
  capturedAt: Date;
  /** Where it came from: file name, URL, stream, or `synthetic:<index>`. */
  sourceRef: string;
  /** Part id the source knows (file-name stem for folder drops); the trigger's wins if both exist. */
  partId?: string;
  /** Only the synthetic line knows the truth. */
  truth?: GroundTruth;
  /** Synthetic line only: defect mask as PNG, same size as the frame. */
  truthMask?: Buffer;
}
