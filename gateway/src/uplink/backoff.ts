/**
 * Waits between reconnect attempts: doubling from `minMs` up to `maxMs`, with
 * `jitterRatio` of each wait drawn at random so that a plant's gateways,
 * cut off by the same switch, do not all come back in the same millisecond.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly opts: { minMs: number; maxMs: number; jitterRatio: number },
    private readonly random: () => number = Math.random,
  ) {}

  /** The wait before the next attempt; each call counts one more failure. */
  next(): number {
    const { minMs, maxMs, jitterRatio } = this.opts;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(ceiling * (1 - jitterRatio * this.random()));
  }

  /** After a connection that held: start again from `minMs`. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
