import { minutesOf, type ShiftDefinition } from '../config/sections/shifts.js';
import type { ZonedClock } from './zoned-clock.js';

export type BucketBy = 'hour' | 'shift' | 'day';

/** A stretch of plant time that figures are grouped by. */
export interface Bucket {
  /** Stable id: local start with its offset for hours, the local date for days, start date + shift name for shifts. */
  key: string;
  /** The plant's name for it: "2026-10-25 02:00 +01:00", "2026-10-25", "2026-10-24 night". */
  label: string;
  /** First instant inside (UTC ms). */
  from: number;
  /** First instant after (UTC ms). */
  to: number;
  /** Shift name for shift buckets; null for a part outside every shift, and for hour and day buckets. */
  shift: string | null;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

const date = (wall: number) => new Date(wall).toISOString().slice(0, 10);
const offsetText = (off: number) => {
  const m = Math.abs(off) / 60_000;
  return `${off < 0 ? '-' : '+'}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};

/**
 * Finds the bucket of an instant in the plant's time. Hours are local clock
 * hours: the hour that repeats when clocks go back is two buckets (told apart
 * by their offset). Days are local days (23 or 25 hours at a clock change).
 * A shift that runs past midnight belongs to the day it started on.
 */
export class Bucketer {
  private readonly spans: { name: string; from: number; to: number }[];

  constructor(
    private readonly clock: ZonedClock,
    shifts: readonly ShiftDefinition[],
  ) {
    this.spans = shifts.map((s) => {
      const from = minutesOf(s.start);
      const end = minutesOf(s.end);
      return { name: s.name, from, to: end <= from ? end + 1440 : end };
    });
  }

  /** Name of the shift an instant falls in, or null between shifts (cheaper than `of(ms, 'shift')`: no bounds). */
  shiftName(ms: number): string | null {
    const wall = this.clock.wall(ms);
    const minute = Math.floor((wall - Math.floor(wall / DAY) * DAY) / 60_000);
    return this.spans.find((s) => (minute >= s.from && minute < s.to) || (minute + 1440 >= s.from && minute + 1440 < s.to))?.name ?? null;
  }

  of(ms: number, by: BucketBy): Bucket {
    const wall = this.clock.wall(ms);
    if (by === 'hour') {
      const off = wall - ms;
      const wallHour = Math.floor(wall / HOUR) * HOUR;
      const from = wallHour - off;
      const text = `${new Date(wallHour).toISOString().slice(0, 13)}:00${offsetText(off)}`;
      return { key: text, label: `${text.slice(0, 10)} ${text.slice(11, 16)} ${text.slice(16)}`, from, to: from + HOUR, shift: null };
    }
    const wallDay = Math.floor(wall / DAY) * DAY;
    if (by === 'day') {
      const d = date(wallDay);
      return { key: d, label: d, from: this.clock.instant(wallDay), to: this.clock.instant(wallDay + DAY), shift: null };
    }
    const minute = Math.floor((wall - wallDay) / 60_000);
    for (const s of this.spans) {
      // Today's shift, or yesterday's that runs past midnight.
      const startDay = minute >= s.from && minute < s.to ? wallDay : minute + 1440 >= s.from && minute + 1440 < s.to ? wallDay - DAY : null;
      if (startDay === null) continue;
      const d = date(startDay);
      return {
        key: `${d} ${s.name}`,
        label: `${d} ${s.name}`,
        from: this.clock.instant(startDay + s.from * 60_000),
        to: this.clock.instant(startDay + s.to * 60_000),
        shift: s.name,
      };
    }
    // Between shifts: one "no shift" bucket per local day.
    const d = date(wallDay);
    return { key: `${d} ~`, label: `${d} (no shift)`, from: this.clock.instant(wallDay), to: this.clock.instant(wallDay + DAY), shift: null };
  }
}
