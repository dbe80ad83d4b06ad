import { Readable } from 'node:stream';

/** Bytes gathered before a chunk is pushed: fewer, larger writes without holding much. */
const CHUNK_BYTES = 64 * 1024;

/**
 * A byte stream pulled from a generator of text lines: a line is produced
 * only when the consumer (ultimately the client's TCP window) wants more, so
 * memory stays flat however many rows an export has. `onClose` runs once,
 * whether the stream ends, fails or the client goes away.
 */
export class LineStream extends Readable {
  private released = false;

  constructor(
    private readonly lines: Generator<string>,
    private readonly onClose: () => void,
  ) {
    super({ highWaterMark: CHUNK_BYTES });
  }

  override _read(): void {
    try {
      let chunk = '';
      for (;;) {
        const next = this.lines.next();
        if (next.done) {
          if (chunk) this.push(chunk);
          this.push(null);
          this.finish();
          return;
        }
        chunk += next.value;
        if (chunk.length >= CHUNK_BYTES) {
          const more = this.push(chunk);
          chunk = '';
          if (!more) return;
        }
      }
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    try {
      this.lines.return(undefined);
    } finally {
      this.finish();
      cb(err);
    }
  }

  private finish(): void {
    if (this.released) return;
    this.released = true;
    this.onClose();
  }
}
