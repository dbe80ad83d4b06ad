import { createHash } from 'node:crypto';
import type { ImageStore } from '../store/images.js';
import type { ImageWire } from './wire-payloads.js';

const MEDIA_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  png: 'image/png',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  webp: 'image/webp',
};

export interface AttachOptions {
  mode: 'inline' | 'reference';
  /** Inline only up to this many bytes of image. */
  inlineMaxBytes: number;
  /** Base URL consumers fetch `/api/inspections/:id/image` from. */
  baseUrl: string;
}

/** The stored image of an inspection, read once and turned into what the payload carries. */
export interface LoadedImage {
  data: Buffer;
  mediaType: string;
  sha256: string;
}

/**
 * Reads the image behind an outbox row. Null when the gateway never stored
 * it or the file is gone; a read error other than "gone" is thrown, so the
 * publisher retries instead of sending a correction without its image.
 */
export async function loadImage(images: ImageStore, imageRef: string | null): Promise<LoadedImage | { missing: 'not-stored' | 'pruned' }> {
  if (imageRef === null) return { missing: 'not-stored' };
  let data: Buffer;
  try {
    data = await images.read(imageRef);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: 'pruned' };
    throw err;
  }
  const ext = imageRef.slice(imageRef.lastIndexOf('.') + 1).toLowerCase();
  return { data, mediaType: MEDIA_TYPES[ext] ?? 'application/octet-stream', sha256: createHash('sha256').update(data).digest('hex') };
}

/** Inline when configured and small enough, else a URL into the gateway's API; hash and size either way. */
export function attachImage(
  image: LoadedImage | { missing: 'not-stored' | 'pruned' | 'unreadable' },
  inspectionId: string,
  opts: AttachOptions,
  forceReference: 'over-broker-limit' | null = null,
): ImageWire {
  if ('missing' in image) return { transfer: 'missing', reason: image.missing };
  const base = { mediaType: image.mediaType, bytes: image.data.length, sha256: image.sha256 };
  if (opts.mode === 'inline' && forceReference === null && image.data.length <= opts.inlineMaxBytes) {
    return { transfer: 'inline', ...base, data: image.data.toString('base64') };
  }
  const reason = forceReference ?? (opts.mode === 'reference' ? 'configured' : 'over-inline-cap');
  return { transfer: 'reference', ...base, url: imageUrl(opts.baseUrl, inspectionId), reason };
}

export function imageUrl(baseUrl: string, inspectionId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/api/inspections/${encodeURIComponent(inspectionId)}/image`;
}
