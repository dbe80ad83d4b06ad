import { api, ApiError, newId } from './api.js';

/**
 * Decisions leave this screen through one local outbox kept in
 * localStorage, so neither a lost connection nor a reload loses a tap:
 *
 *   held ──(undo window over)──► sending ──200──► saved
 *     │                            │ no answer ──► waiting ──(retry)──► sending
 *     └─undo─► (gone)              └ 409/400 ───► refused (with who decided instead)
 *
 * Each tap gets its decision id once; every retry sends the same id, and the
 * gateway answers a repeat with the first result, so a decision is recorded
 * exactly once however often the link drops. Only `saved` is shown as done.
 */
export type DecisionStatus = 'held' | 'sending' | 'waiting' | 'saved' | 'refused';

export interface LocalDecision {
  decisionId: string;
  inspectionId: string;
  partId: string;
  station: string;
  verdict: 'pass' | 'fail';
  defectClass: string | null;
  note: string | null;
  /** Who tapped: sent only under that operator's session. */
  operatorId: string;
  createdAt: number;
  /** Held for undo until then. */
  sendAfter: number;
  status: DecisionStatus;
  /** Waiting because nobody (or someone else) is logged in. */
  waitingForLogin?: boolean;
  replay?: boolean;
  /** Why it was refused (the gateway's code and details). */
  refusal?: { code: string; message: string; details: Record<string, unknown> };
  attempts: number;
  nextTryAt: number;
}

const KEY = 'loupe.decisions.v1';
/** Done decisions kept for the "last decisions" list. */
const KEEP_DONE = 20;

export class DecisionOutbox {
  private items: LocalDecision[] = [];
  private readonly listeners = new Set<() => void>();
  private operatorId: string | null = null;
  private timer: number;

  constructor(private readonly hooks: { unreachable: () => void; authProblem: (code: string) => void }) {
    this.items = load();
    // A send the page did not see answered may or may not have landed: send it again (same id, so no double).
    for (const d of this.items) if (d.status === 'sending') d.status = 'waiting';
    this.save();
    this.timer = window.setInterval(() => this.pump(), 200);
  }

  stop(): void {
    window.clearInterval(this.timer);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The operator logged in on this screen now (null: nobody). */
  setOperator(id: string | null): void {
    this.operatorId = id;
    for (const d of this.items) if (d.status === 'waiting') d.nextTryAt = 0;
    this.pump();
  }

  add(d: Omit<LocalDecision, 'decisionId' | 'createdAt' | 'sendAfter' | 'status' | 'attempts' | 'nextTryAt'>, holdMs: number): LocalDecision {
    const now = Date.now();
    const item: LocalDecision = { ...d, decisionId: newId(), createdAt: now, sendAfter: now + holdMs, status: 'held', attempts: 0, nextTryAt: 0 };
    this.items.push(item);
    this.changed();
    return item;
  }

  /** Take back the newest decision still held; returns it, or null when none can be undone. */
  undoLast(): LocalDecision | null {
    const held = this.items.filter((d) => d.status === 'held');
    const last = held.at(-1);
    if (!last) return null;
    this.items = this.items.filter((d) => d !== last);
    this.changed();
    return last;
  }

  /** Send held decisions now (e.g. the operator logs out or locks: nothing should sit in the undo window). */
  releaseHeld(): void {
    for (const d of this.items) if (d.status === 'held') d.sendAfter = 0;
    this.pump();
  }

  /** Resolves when nothing is held or in flight any more, or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && this.items.some((d) => d.status === 'held' || d.status === 'sending')) {
      await new Promise((r) => window.setTimeout(r, 50));
    }
  }

  all(): readonly LocalDecision[] {
    return this.items;
  }

  /** Inspections this screen has decided but the gateway has not confirmed yet: not shown as open. */
  openIds(): Set<string> {
    return new Set(this.items.filter((d) => d.status !== 'refused').map((d) => d.inspectionId));
  }

  unsent(): LocalDecision[] {
    return this.items.filter((d) => d.status === 'held' || d.status === 'sending' || d.status === 'waiting');
  }

  private pump(): void {
    const now = Date.now();
    for (const d of this.items) {
      if (d.status === 'held' && now >= d.sendAfter) this.send(d);
      else if (d.status === 'waiting' && now >= d.nextTryAt) this.send(d);
    }
  }

  private send(d: LocalDecision): void {
    if (this.operatorId !== d.operatorId) {
      if (d.status !== 'waiting' || !d.waitingForLogin) {
        d.status = 'waiting';
        d.waitingForLogin = true;
        this.changed();
      }
      d.nextTryAt = Date.now() + 1000;
      return;
    }
    d.status = 'sending';
    d.waitingForLogin = false;
    d.attempts++;
    this.changed();
    api<{ replay: boolean }>('POST', '/api/review/decisions', {
      decisionId: d.decisionId,
      inspectionId: d.inspectionId,
      verdict: d.verdict,
      defectClass: d.defectClass,
      note: d.note,
    }).then(
      (r) => {
        d.status = 'saved';
        d.replay = r.replay;
        this.changed();
      },
      (err: unknown) => {
        const e = err instanceof ApiError ? err : new ApiError(0, 'OFFLINE', String(err));
        if (e.offline || e.status >= 500 || e.status === 429) {
          d.status = 'waiting';
          d.nextTryAt = Date.now() + Math.min(5000, 500 * 2 ** Math.min(d.attempts, 4));
          if (e.offline) this.hooks.unreachable();
        } else if (e.status === 401 || e.status === 403) {
          d.status = 'waiting';
          d.waitingForLogin = true;
          d.nextTryAt = Date.now() + 2000;
          this.hooks.authProblem(e.code);
        } else {
          d.status = 'refused';
          d.refusal = { code: e.code, message: e.message, details: e.details };
        }
        this.changed();
      },
    );
  }

  private changed(): void {
    const done = this.items.filter((d) => d.status === 'saved' || d.status === 'refused');
    if (done.length > KEEP_DONE) {
      const drop = new Set(done.slice(0, done.length - KEEP_DONE));
      this.items = this.items.filter((d) => !drop.has(d));
    }
    this.save();
    this.listeners.forEach((l) => l());
  }

  private save(): void {
    try {
      localStorage.setItem(KEY, JSON.stringify(this.items));
    } catch {
      // Storage full or disabled: the decisions still live in memory until sent.
    }
  }
}

function load(): LocalDecision[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? (v as LocalDecision[]) : [];
  } catch {
    return [];
  }
}
