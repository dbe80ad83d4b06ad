import { z } from 'zod';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a local time HH:MM, e.g. "06:00"');

/** Minutes after local midnight of an `HH:MM` string that passed `hhmm`. */
export function minutesOf(t: string): number {
  return Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const shift = z.strictObject({
  /** Name shown in statistics and exports, e.g. "early". */
  name: z.string().regex(/^[A-Za-z0-9 _-]{1,32}$/, 'expected 1-32 letters, digits, spaces, "_" or "-"'),
  /** Local start time, inclusive. */
  start: hhmm,
  /** Local end time, exclusive; earlier than `start` means the shift runs past midnight. */
  end: hhmm,
});

/**
 * Shifts as the plant runs them, for yield per shift and for hour and day
 * buckets in the plant's own time. A shift that runs past midnight belongs to
 * the day it starts on. Gaps are allowed (parts in a gap count under no shift);
 * overlaps are not.
 */
export const shiftsSchema = z
  .strictObject({
    /** IANA time zone of the shift times, and of the hour and day buckets of statistics and export times. Default UTC. */
    timeZone: z.string().refine(isTimeZone, 'expected an IANA time zone such as "Europe/Berlin"').default('UTC'),
    /** The shifts of one day. Default early 06:00-14:00, late 14:00-22:00, night 22:00-06:00. */
    definitions: z
      .array(shift)
      .min(1)
      .max(12)
      .default([
        { name: 'early', start: '06:00', end: '14:00' },
        { name: 'late', start: '14:00', end: '22:00' },
        { name: 'night', start: '22:00', end: '06:00' },
      ]),
  })
  .superRefine((s, ctx) => {
    const names = new Set<string>();
    const spans: { i: number; from: number; to: number }[] = [];
    s.definitions.forEach((d, i) => {
      if (names.has(d.name)) ctx.addIssue({ code: 'custom', path: ['definitions', i, 'name'], message: `duplicate shift name "${d.name}", expected unique names` });
      names.add(d.name);
      const from = minutesOf(d.start);
      let to = minutesOf(d.end);
      if (to === from && s.definitions.length > 1) {
        ctx.addIssue({ code: 'custom', path: ['definitions', i, 'end'], message: 'a 24-hour shift (end = start) must be the only one, expected another end time' });
      }
      if (to <= from) to += 1440;
      // Unrolled onto two days so that spans past midnight compare as plain intervals.
      spans.push({ i, from, to }, { i, from: from + 1440, to: to + 1440 });
    });
    const reported = new Set<string>();
    for (const a of spans) {
      for (const b of spans) {
        if (a.i < b.i && a.from < b.to && b.from < a.to && !reported.has(`${a.i}:${b.i}`)) {
          reported.add(`${a.i}:${b.i}`);
          const [x, y] = [s.definitions[a.i], s.definitions[b.i]];
          ctx.addIssue({ code: 'custom', path: ['definitions', b.i], message: `shift "${y?.name}" overlaps shift "${x?.name}", expected shifts that do not overlap` });
        }
      }
    }
  });

export type ShiftsConfig = z.infer<typeof shiftsSchema>;
export type ShiftDefinition = ShiftsConfig['definitions'][number];
