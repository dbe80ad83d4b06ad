import { z } from 'zod';
import { LoupeError } from '../../../errors.js';
import type { DecidedBy, InspectionState, Verdict } from '../../../inspect/inspection.js';
import type { ZonedClock } from '../../../stats/zoned-clock.js';
import type { InspectionFilter } from '../../../store/queries.js';

const VERDICTS = ['pass', 'fail', 'review'] as const;
const DECIDED_BY = ['model', 'operator', 'timeout'] as const;
const STATES = ['decided', 'awaiting-review', 'reviewed', 'timed-out', 'error'] as const;

const enumList = (values: readonly string[], what: string) =>
  z
    .string()
    .regex(new RegExp(`^(${values.join('|')})(,(${values.join('|')}))*$`), `expected one or more of ${values.join(', ')}, comma-separated`)
    .optional()
    .describe(`${what}: one or more of ${values.join(', ')}, comma-separated`);

const textList = (what: string) => z.string().min(1).max(2000).optional().describe(`${what}, comma-separated for several`);
const instant = (what: string) =>
  z
    .string()
    .max(40)
    .optional()
    .describe(`${what}: ISO 8601 with offset (2026-10-24T06:00:00+02:00 or ...Z), or a date (2026-10-24 = local midnight in the plant's time zone)`);
const flag = (what: string) => z.enum(['true', 'false']).optional().describe(what);

/** Query parameters that select inspections; the same for the list, exports and statistics. */
export const filterQuery = z.object({
  from: instant('Triggered at or after'),
  to: instant('Triggered before'),
  station: textList('Station id'),
  verdict: enumList(VERDICTS, 'Verdict that stands now'),
  modelVerdict: enumList(VERDICTS, 'Verdict the model gave at once'),
  decidedBy: enumList(DECIDED_BY, 'Who settled the verdict'),
  state: enumList(STATES, 'State'),
  defectClass: textList('Defect class of the verdict that stands'),
  modelVersion: textList('Model version'),
  scoreMin: z.coerce.number().min(0).max(1).optional().describe('Defect score at least (0..1, inclusive)'),
  scoreMax: z.coerce.number().min(0).max(1).optional().describe('Defect score at most (0..1, inclusive)'),
  partIdPrefix: z.string().min(1).max(128).optional().describe('Part ids starting with this (case-sensitive)'),
  reviewed: flag('true: a person decided the part; false: nobody did (yet)'),
  overridden: flag("true: a person reversed the model's confident pass or fail"),
  audit: flag('true: confident verdicts sampled for audit'),
});

export type FilterQuery = z.infer<typeof filterQuery>;

const split = (s: string | undefined) =>
  s === undefined
    ? undefined
    : s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
const bool = (s: 'true' | 'false' | undefined) => (s === undefined ? undefined : s === 'true');

/** `2026-10-24` (local midnight in the plant's zone) or an ISO instant with offset. */
export function parseInstant(text: string, clock: ZonedClock, key: string): Date {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const wall = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    if (!Number.isNaN(wall) && new Date(wall).toISOString().startsWith(text)) return new Date(clock.instant(wall));
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  throw new LoupeError('LOUPE_ERR_API_FILTER_INVALID', `${key}: expected an ISO 8601 time with offset (2026-10-24T06:00:00+02:00) or a date (2026-10-24), got "${text}"`, {
    details: { key },
  });
}

/** The store's filter for a validated query, times read in the plant's zone. */
export function toFilter(q: FilterQuery, clock: ZonedClock): InspectionFilter {
  const f: InspectionFilter = {};
  if (q.from !== undefined) f.from = parseInstant(q.from, clock, 'from');
  if (q.to !== undefined) f.to = parseInstant(q.to, clock, 'to');
  if (f.from && f.to && f.from.getTime() >= f.to.getTime()) {
    throw new LoupeError('LOUPE_ERR_API_FILTER_INVALID', `from (${q.from}) must be before to (${q.to})`, { details: { key: 'from' } });
  }
  if (q.scoreMin !== undefined && q.scoreMax !== undefined && q.scoreMin > q.scoreMax) {
    throw new LoupeError('LOUPE_ERR_API_FILTER_INVALID', `scoreMin (${q.scoreMin}) must not exceed scoreMax (${q.scoreMax})`, { details: { key: 'scoreMin' } });
  }
  const set = <K extends keyof InspectionFilter>(k: K, v: InspectionFilter[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('stations', split(q.station));
  set('verdicts', split(q.verdict) as Verdict[] | undefined);
  set('modelVerdicts', split(q.modelVerdict) as Verdict[] | undefined);
  set('decidedBy', split(q.decidedBy) as DecidedBy[] | undefined);
  set('states', split(q.state) as InspectionState[] | undefined);
  set('defectClasses', split(q.defectClass));
  set('modelVersions', split(q.modelVersion));
  set('scoreMin', q.scoreMin);
  set('scoreMax', q.scoreMax);
  set('partIdPrefix', q.partIdPrefix);
  set('reviewed', bool(q.reviewed));
  set('overridden', bool(q.overridden));
  set('audit', bool(q.audit));
  return f;
}

/** The filter as it was applied, for responses and export descriptions (times in the plant's zone). */
export function describeFilter(f: InspectionFilter, clock: ZonedClock): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) out[k] = v instanceof Date ? clock.iso(v.getTime()) : v;
  return out;
}
