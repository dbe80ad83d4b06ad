/**
 * Wall-clock time in one IANA zone, without a date library: the offset of an
 * instant comes from Intl and is cached per 15-minute slot (every zone's
 * offset, and every change of it, falls on a quarter hour of UTC).
 * "Wall" times are milliseconds as if the local date and time were UTC, so
 * plain arithmetic finds the local hour, day and minute of the day.
 */
export class ZonedClock {
  private readonly format: Intl.DateTimeFormat | null;
  private readonly offsets = new Map<number, number>();

  constructor(readonly timeZone: string) {
    this.format =
      timeZone === 'UTC'
        ? null
        : new Intl.DateTimeFormat('en-US', {
            timeZone,
            hourCycle: 'h23',
            year: 'numeric',
            month: '2-digit',
            day: '2-digit',
            hour: '2-digit',
            minute: '2-digit',
            second: '2-digit',
          });
  }

  /** Offset of the zone from UTC at instant `ms`, in ms (positive east of Greenwich). */
  offsetMs(ms: number): number {
    if (this.format === null) return 0;
    const slot = Math.floor(ms / 900_000);
    let off = this.offsets.get(slot);
    if (off === undefined) {
      const at = slot * 900_000;
      const p: Record<string, number> = {};
      for (const part of this.format.formatToParts(new Date(at))) if (part.type !== 'literal') p[part.type] = Number(part.value);
      off = Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0) - at;
      if (this.offsets.size > 100_000) this.offsets.clear();
      this.offsets.set(slot, off);
    }
    return off;
  }

  /** Local wall time of an instant. */
  wall(ms: number): number {
    return ms + this.offsetMs(ms);
  }

  /**
   * The instant a wall time names. A wall time that occurs twice (clocks go
   * back) gives the first; one that does not exist (clocks go forward) gives
   * the instant the clocks jumped at, so buckets stay contiguous.
   */
  instant(wall: number): number {
    // Within a day of any instant there is at most one change of offset: the offsets a day
    // before and a day after are the only candidates.
    const early = this.offsetMs(wall - 86_400_000);
    const late = this.offsetMs(wall + 86_400_000);
    const fits = [wall - early, wall - late].filter((t) => this.wall(t) === wall);
    if (fits.length > 0) return Math.min(...fits);
    // A skipped wall time: find the quarter hour at which the offset changed.
    let t = Math.floor((wall - late) / 900_000) * 900_000;
    while (this.offsetMs(t) !== late && t < wall - early) t += 900_000;
    return t;
  }

  /** ISO 8601 with the zone's offset, e.g. 2026-10-25T02:30:00.000+01:00 (Z for UTC). */
  iso(ms: number): string {
    const off = this.offsetMs(ms);
    const local = new Date(ms + off).toISOString().slice(0, 23);
    if (off === 0 && this.format === null) return `${local}Z`;
    const sign = off < 0 ? '-' : '+';
    const abs = Math.abs(off) / 60_000;
    return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  }
}
