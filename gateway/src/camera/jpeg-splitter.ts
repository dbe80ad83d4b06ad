type State = 'seek' | 'marker' | 'length' | 'segment' | 'entropy';

const FF = Buffer.from([0xff]);
/** A stream that never closes a frame is broken, not a large image. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * Cuts a concatenated JPEG stream (ffmpeg `image2pipe`, MJPEG over HTTP) into
 * frames, whatever the chunk boundaries. It walks the marker segments instead
 * of searching for FF D9, because an EXIF thumbnail holds its own FF D9 and
 * would cut a frame short; inside entropy-coded data FF is always followed by
 * 00 or a restart marker, so the next real marker is found by one scan.
 */
export class JpegSplitter {
  private state: State = 'seek';
  /** Pieces of the frame being assembled that came in earlier chunks. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** The last byte seen was an FF whose meaning depends on the next byte. */
  private pendingFf = false;
  private lengthBytes: number[] = [];
  private segmentLeft = 0;
  private segmentIsScan = false;
  private droppedFrames = 0;

  /** Frames begun but abandoned because the stream broke off mid-frame or was corrupt. */
  get dropped(): number {
    return this.droppedFrames;
  }

  /** Feed the next chunk; returns the frames it completed, in order. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    // Offset in `chunk` where the current frame's bytes start; -1 while between frames.
    let start = this.state === 'seek' ? -1 : 0;
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'seek': {
          if (this.pendingFf) {
            this.pendingFf = false;
            if (chunk[i] === 0xd8) {
              this.begin([FF]);
              start = i;
              i++;
              continue;
            }
          }
          const ff = chunk.indexOf(0xff, i);
          if (ff === -1 || ff === chunk.length - 1) {
            this.pendingFf = ff !== -1;
            i = chunk.length;
          } else if (chunk[ff + 1] === 0xd8) {
            this.begin([]);
            start = ff;
            i = ff + 2;
          } else {
            i = ff + 1;
          }
          continue;
        }
        case 'marker': {
          const b = chunk[i] as number;
          if (!this.pendingFf) {
            if (b !== 0xff) {
              this.abandon();
              start = -1;
              continue;
            }
            this.pendingFf = true;
            i++;
            continue;
          }
          if (b === 0xff) {
            // Fill byte before a marker.
            i++;
            continue;
          }
          if (b === 0xd8) {
            // A new frame began before this one ended: ffmpeg restarted or bytes were lost.
            this.abandon();
            this.pendingFf = true;
            start = -1;
            continue;
          }
          this.pendingFf = false;
          i++;
          if (b === 0xd9) {
            frames.push(this.finish(chunk.subarray(start, i)));
            start = -1;
          } else if (!((b >= 0xd0 && b <= 0xd7) || b === 0x01)) {
            // Every marker but RSTn, TEM, SOI and EOI carries a 2-byte length.
            this.segmentIsScan = b === 0xda;
            this.lengthBytes = [];
            this.state = 'length';
          }
          continue;
        }
        case 'length': {
          this.lengthBytes.push(chunk[i] as number);
          i++;
          if (this.lengthBytes.length === 2) {
            const length = ((this.lengthBytes[0] as number) << 8) | (this.lengthBytes[1] as number);
            if (length < 2) {
              this.abandon();
              start = -1;
              continue;
            }
            this.segmentLeft = length - 2;
            this.state = this.segmentLeft > 0 ? 'segment' : this.afterSegment();
          }
          continue;
        }
        case 'segment': {
          const take = Math.min(this.segmentLeft, chunk.length - i);
          i += take;
          this.segmentLeft -= take;
          if (this.segmentLeft === 0) this.state = this.afterSegment();
          continue;
        }
        case 'entropy': {
          if (this.pendingFf) {
            const b = chunk[i] as number;
            if (b === 0x00 || (b >= 0xd0 && b <= 0xd7)) {
              this.pendingFf = false;
              i++;
            } else if (b === 0xff) {
              i++;
            } else {
              // A real marker: let the marker state read it, FF already seen.
              this.state = 'marker';
            }
            continue;
          }
          const ff = chunk.indexOf(0xff, i);
          if (ff === -1) {
            i = chunk.length;
          } else {
            this.pendingFf = true;
            i = ff + 1;
          }
          continue;
        }
      }
    }
    if (start !== -1 && this.state !== 'seek') {
      this.parts.push(chunk.subarray(start));
      this.partsBytes += chunk.length - start;
      if (this.partsBytes > MAX_FRAME_BYTES) this.abandon();
    }
    return frames;
  }

  private afterSegment(): State {
    return this.segmentIsScan ? 'entropy' : 'marker';
  }

  private begin(parts: Buffer[]): void {
    this.parts = parts;
    this.partsBytes = parts.reduce((n, p) => n + p.length, 0);
    this.pendingFf = false;
    this.state = 'marker';
  }

  private finish(tail: Buffer): Buffer {
    const frame = Buffer.concat([...this.parts, tail]);
    this.parts = [];
    this.partsBytes = 0;
    this.state = 'seek';
    return frame;
  }

  private abandon(): void {
    this.droppedFrames++;
    this.parts = [];
    this.partsBytes = 0;
    this.pendingFf = false;
    this.state = 'seek';
  }
}
