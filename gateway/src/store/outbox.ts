import type { Db } from './database.js';

export interface OutboxMessage {
  seq: number;
  /** Unique id consumers dedupe on (correction id). */
  messageId: string;
  kind: string;
  station: string;
  inspectionId: string | null;
  payload: unknown;
  createdAt: number;
  attempts: number;
}

interface Row {
  seq: number;
  message_id: string;
  kind: string;
  station: string;
  inspection_id: string | null;
  payload: string;
  created_at: number;
  attempts: number;
}

/**
 * Messages for the plant broker, committed with the change that caused them
 * (outbox first). The uplink drains it in `seq` order and deletes a row only
 * after the broker acknowledged it.
 */
export class Outbox {
  private readonly insertStmt;
  private readonly peekStmt;
  private readonly deleteStmt;
  private readonly attemptStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO outbox (message_id, kind, station, inspection_id, payload, created_at)
       VALUES (@messageId, @kind, @station, @inspectionId, @payload, @createdAt)`,
    );
    this.peekStmt = db.prepare<[number, number], Row>('SELECT * FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.deleteStmt = db.prepare<[number]>('DELETE FROM outbox WHERE seq = ?');
    this.attemptStmt = db.prepare<[string | null, number]>('UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?');
  }

  /** Call inside the transaction that records the change the message reports. */
  enqueue(m: { messageId: string; kind: string; station: string; inspectionId: string | null; payload: unknown }): void {
    this.insertStmt.run({ ...m, payload: JSON.stringify(m.payload), createdAt: Date.now() });
  }

  /** Oldest messages after `afterSeq`, in order. */
  peek(limit: number, afterSeq = 0): OutboxMessage[] {
    return this.peekStmt.all(afterSeq, limit).map((r) => ({
      seq: r.seq,
      messageId: r.message_id,
      kind: r.kind,
      station: r.station,
      inspectionId: r.inspection_id,
      payload: JSON.parse(r.payload) as unknown,
      createdAt: r.created_at,
      attempts: r.attempts,
    }));
  }

  /** The broker has it: forget it. */
  remove(seq: number): void {
    this.deleteStmt.run(seq);
  }

  /** Several acknowledged messages in one transaction: one disk sync instead of one per message. */
  removeMany(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.db.transaction(() => {
      for (const seq of seqs) this.deleteStmt.run(seq);
    })();
  }

  recordAttempt(seq: number, error: string | null): void {
    this.attemptStmt.run(error, seq);
  }

  /** Backlog size and the age of its oldest message (ms), for status and alarms. */
  backlog(now = Date.now()): { count: number; oldestAgeMs: number } {
    const r = this.db.prepare<[], { n: number; oldest: number | null }>('SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox').get();
    return { count: r?.n ?? 0, oldestAgeMs: r?.oldest == null ? 0 : now - r.oldest };
  }
}
