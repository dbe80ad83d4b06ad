import { increment, type CounterWidth } from './counter.js';

interface Shown<T> {
  seq: number;
  /** null: an entry the PLC still shows from before Loupe started; only its acknowledgement matters. */
  item: T | null;
  /** True once the sequence number itself reached the PLC. */
  written: boolean;
}

/**
 * One outbound lane of the handshake (results, or final verdicts). The PLC
 * sees one entry at a time on its tags and acknowledges it by copying its
 * sequence number back; the rest wait, up to `depth` unacknowledged in all.
 * Pure bookkeeping: the handshake does the writing.
 */
export class SeqChannel<T> {
  private shown: Shown<T> | null = null;
  private readonly waiting: T[] = [];
  /** The sequence number on the PLC's tag (unsigned, modulo the declared width). */
  private seq = 0;

  constructor(
    private readonly depth: number,
    private width: CounterWidth,
  ) {}

  /** Entries the PLC has not acknowledged, the shown one included. */
  get size(): number {
    return (this.shown ? 1 : 0) + this.waiting.length;
  }

  /** Entries queued behind the shown one. */
  get queued(): number {
    return this.waiting.length;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Queue an entry; false when `depth` unacknowledged entries are already held (overrun). */
  offer(item: T): boolean {
    if (this.size >= this.depth) return false;
    this.waiting.push(item);
    return true;
  }

  /** The entry to write next with its sequence number, or null while one awaits acknowledgement. */
  next(): { seq: number; item: T } | null {
    if (this.shown) return null;
    const item = this.waiting.shift();
    if (item === undefined) return null;
    this.shown = { seq: increment(this.seq, this.width), item, written: false };
    return { seq: this.shown.seq, item };
  }

  /** Replace the entry about to be shown (a result that missed its deadline becomes no-result). */
  replaceShown(item: T): void {
    if (this.shown) this.shown.item = item;
  }

  /** The sequence number of the shown entry reached the PLC. */
  written(seq: number): void {
    if (this.shown?.seq !== seq) return;
    this.shown.written = true;
    this.seq = seq;
  }

  /** The PLC acknowledged `ack`: returns the freed entry (null for a placeholder), or undefined if `ack` frees nothing. */
  acknowledge(ack: number): T | null | undefined {
    if (!this.shown?.written || ack !== this.shown.seq) return undefined;
    const { item } = this.shown;
    this.shown = null;
    return item;
  }

  /**
   * After (re)connecting, align with what the PLC holds: its copy of the
   * sequence number and its acknowledgement. An entry whose number never
   * reached the PLC (or was lost with a PLC restart) is shown again.
   */
  resync(plcSeq: number, plcAck: number, width: CounterWidth): { acknowledged: T | null | undefined } {
    this.width = width;
    let acknowledged: T | null | undefined;
    // The number on the PLC proves the write arrived, even if its answer was lost with the link.
    if (this.shown && plcSeq === this.shown.seq) {
      this.shown.written = true;
      if (plcAck === plcSeq) {
        acknowledged = this.shown.item;
        this.shown = null;
      }
    } else if (this.shown) {
      if (this.shown.item !== null) this.waiting.unshift(this.shown.item);
      this.shown = null;
    }
    this.seq = plcSeq;
    if (!this.shown && plcSeq !== plcAck) {
      // The PLC still shows an entry it has not acknowledged (from before a restart): wait for its acknowledgement first.
      this.shown = { seq: plcSeq, item: null, written: true };
    }
    return { acknowledged };
  }

  /** Drop everything (the block is stopping). */
  drain(): T[] {
    const items = [...(this.shown?.item ? [this.shown.item] : []), ...this.waiting.splice(0)];
    this.shown = null;
    return items;
  }
}
