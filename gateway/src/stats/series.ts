import type { Bucket, BucketBy, Bucketer } from './buckets.js';
import { count, emptyTally, type Outcome, type Tally } from './tally.js';

/** Outcomes counted per UTC minute (what the store's aggregation returns). */
export interface MinuteOutcome extends Outcome {
  minute: number;
}

export interface BucketTally {
  bucket: Bucket;
  tally: Tally;
}

/** Tallies per local hour, shift or day, in time order; buckets without parts are left out. */
export function tallyBy(rows: Iterable<MinuteOutcome>, by: BucketBy, bucketer: Bucketer): BucketTally[] {
  const out = new Map<string, BucketTally>();
  const byMinute = new Map<number, Bucket>();
  for (const r of rows) {
    let b = byMinute.get(r.minute);
    if (b === undefined) {
      b = bucketer.of(r.minute * 60_000, by);
      byMinute.set(r.minute, b);
    }
    let entry = out.get(b.key);
    if (entry === undefined) {
      entry = { bucket: b, tally: emptyTally() };
      out.set(b.key, entry);
    }
    count(entry.tally, r);
  }
  return [...out.values()].sort((a, b) => a.bucket.from - b.bucket.from || a.bucket.key.localeCompare(b.bucket.key));
}
