import type { LinkStatus } from './context.js';
import type { Inspection } from '../inspect/inspection.js';
import type { Station } from '../inspect/station.js';
import type { ReviewQueue, Settlement } from '../review/review-queue.js';
import type { Store } from '../store/store.js';

/** One part in the status screen's strip of recent parts. */
export interface RecentPart {
  id: string;
  partId: string;
  station: string;
  at: string;
  /** Verdict that stands now: the model's, or the operator's / timeout's once settled. */
  verdict: 'pass' | 'fail' | 'review' | null;
  state: Inspection['state'];
  decidedBy: Inspection['decidedBy'];
  defectClass: string | null;
  defectScore: number | null;
  imageUrl: string | null;
}

export interface ShiftCounts {
  pass: number;
  fail: number;
  /** Waiting for an operator now. */
  review: number;
  error: number;
  /** pass / (pass + fail), or null before the first decided part. */
  yield: number | null;
}

export interface LineStatus {
  at: string;
  origin: { site: string; line: string; gatewayId: string };
  stations: {
    id: string;
    name: string;
    running: boolean;
    camera: { state: string; lastError: string | null; framesPerSecond: number };
    partsPerSecond: number;
    model: { id: string; version: string; provider: string };
    reviewBacklog: number;
    lastPartAt: string | null;
    shift: ShiftCounts;
  }[];
  links: LinkStatus[];
  /** Corrections committed but not yet acknowledged by the plant broker. */
  uplinkBacklog: { count: number; oldestAgeMs: number };
  shift: ShiftCounts & { startedAt: string };
  recent: RecentPart[];
}

const RECENT = 12;
/** The bootstrap reads the shift's rows in pages of this many. */
const PAGE = 500;

/**
 * What the status screen shows, kept up to date from station and review
 * events: throughput, links, the strip of recent parts and the shift's
 * yield. The yield is counted from the store once per shift (so a restart
 * keeps it) and then incrementally.
 */
export class LineStatusBoard {
  private recent: RecentPart[] = [];
  private shiftStart = 0;
  private readonly counts = new Map<string, { pass: number; fail: number; review: number; error: number }>();
  /** framesGrabbed samples per station for a camera frame rate over ~10 s. */
  private readonly samples = new Map<string, { at: number; frames: number }[]>();

  constructor(
    private readonly deps: {
      stations: ReadonlyMap<string, Station>;
      store: Store;
      review: ReviewQueue;
      links: () => LinkStatus[];
      origin: LineStatus['origin'];
      shiftStarts: readonly string[];
      now?: () => number;
    },
  ) {
    this.recent = deps.store.inspections.list({ limit: RECENT }).map(toRecent);
    this.rollShift();
    // A first sample per camera, so the first snapshot that matters already has a rate.
    for (const s of deps.stations.values()) this.frameRate(s.id, s.status().camera.framesGrabbed, this.now());
  }

  /** A station committed a part's first verdict. */
  onInspected(i: Inspection): void {
    this.recent = [toRecent(i), ...this.recent.filter((r) => r.id !== i.id)].slice(0, RECENT);
    if (this.rollShift() || i.triggeredAt.getTime() < this.shiftStart) return;
    this.count(i.station, i, +1);
  }

  /** An operator or the timeout settled a part. */
  onSettled(s: Settlement): void {
    const i = s.inspection;
    this.recent = this.recent.map((r) => (r.id === i.id ? toRecent(i) : r));
    if (this.rollShift() || i.triggeredAt.getTime() < this.shiftStart) return;
    const c = this.tally(i.station);
    c.review = Math.max(0, c.review - 1);
    if (i.verdict === 'pass') c.pass++;
    else if (i.verdict === 'fail') c.fail++;
  }

  recentPart(id: string): RecentPart | null {
    return this.recent.find((r) => r.id === id) ?? null;
  }

  snapshot(): LineStatus {
    this.rollShift();
    const now = this.now();
    const stations = [...this.deps.stations.values()].map((s) => {
      const st = s.status();
      return {
        id: st.id,
        name: st.name,
        running: st.running,
        camera: { state: st.camera.state, lastError: st.camera.lastError, framesPerSecond: this.frameRate(st.id, st.camera.framesGrabbed, now) },
        partsPerSecond: Math.round(st.partsPerSecond * 100) / 100,
        model: { id: st.model.id, version: st.model.version, provider: st.model.provider },
        reviewBacklog: this.deps.review.list(st.id).length,
        lastPartAt: st.lastPartAt,
        shift: withYield(this.tally(st.id)),
      };
    });
    const total = { pass: 0, fail: 0, review: 0, error: 0 };
    for (const c of this.counts.values()) (['pass', 'fail', 'review', 'error'] as const).forEach((k) => (total[k] += c[k]));
    return {
      at: new Date(now).toISOString(),
      origin: this.deps.origin,
      stations,
      links: this.deps.links(),
      uplinkBacklog: this.deps.store.outbox.backlog(now),
      shift: { ...withYield(total), startedAt: new Date(this.shiftStart).toISOString() },
      recent: this.recent,
    };
  }

  /** Start a new tally when a shift began since the last look; true when it did (the tally is fresh). */
  private rollShift(): boolean {
    const start = latestShiftStart(this.deps.shiftStarts, this.now());
    if (start === this.shiftStart) return false;
    this.shiftStart = start;
    this.counts.clear();
    let before: string | undefined;
    for (;;) {
      const page = this.deps.store.inspections.list({ limit: PAGE, ...(before ? { before } : {}) });
      for (const i of page) if (i.triggeredAt.getTime() >= start) this.count(i.station, i, +1);
      const last = page.at(-1);
      if (page.length < PAGE || !last || last.triggeredAt.getTime() < start) break;
      before = last.id;
    }
    return true;
  }

  private count(station: string, i: Inspection, n: number): void {
    const c = this.tally(station);
    if (i.state === 'error') c.error += n;
    else if (i.state === 'awaiting-review') c.review += n;
    else if (i.verdict === 'pass') c.pass += n;
    else if (i.verdict === 'fail') c.fail += n;
  }

  private tally(station: string) {
    let c = this.counts.get(station);
    if (!c) this.counts.set(station, (c = { pass: 0, fail: 0, review: 0, error: 0 }));
    return c;
  }

  private frameRate(station: string, frames: number, now: number): number {
    const list = this.samples.get(station) ?? [];
    list.push({ at: now, frames });
    while (list.length > 2 && now - (list[0]?.at ?? now) > 10_000) list.shift();
    this.samples.set(station, list);
    const first = list[0];
    if (!first || now - first.at < 500) return 0;
    return Math.round(((frames - first.frames) / ((now - first.at) / 1000)) * 100) / 100;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function withYield(c: { pass: number; fail: number; review: number; error: number }): ShiftCounts {
  const decided = c.pass + c.fail;
  return { ...c, yield: decided === 0 ? null : c.pass / decided };
}

function toRecent(i: Inspection): RecentPart {
  return {
    id: i.id,
    partId: i.partId,
    station: i.station,
    at: i.triggeredAt.toISOString(),
    verdict: i.verdict,
    state: i.state,
    decidedBy: i.decidedBy,
    defectClass: i.defectClass,
    defectScore: i.defectScore,
    imageUrl: i.imageRef === null ? null : `/api/inspections/${i.id}/image`,
  };
}

/** Most recent local time among `starts` ("HH:MM") at or before `now`. */
export function latestShiftStart(starts: readonly string[], now: number): number {
  let best = -Infinity;
  for (const dayOffset of [0, -1]) {
    for (const s of starts) {
      const [h, m] = s.split(':').map(Number);
      const d = new Date(now);
      d.setDate(d.getDate() + dayOffset);
      d.setHours(h ?? 0, m ?? 0, 0, 0);
      const t = d.getTime();
      if (t <= now && t > best) best = t;
    }
  }
  return best;
}
