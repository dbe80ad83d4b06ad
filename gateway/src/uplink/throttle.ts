/**
 * Token bucket: at most `perSecond` on average, with bursts of up to a tenth
 * of a second's worth, so a backlog of thousands goes out as a steady trickle
 * the line's own work can interleave with.
 */
export class Throttle {
  private tokens: number;
  private last: number;
  private readonly burst: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.burst = Math.max(1, perSecond / 10);
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Milliseconds to wait before one more message may go; 0 takes the token now. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.perSecond) / 1000);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }
}
