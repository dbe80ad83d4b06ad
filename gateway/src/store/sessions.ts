import type { Db } from './database.js';

export interface SessionRow {
  /** sha256 of the cookie token (hex): the token itself is never stored. */
  tokenHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  lastActiveAt: number;
  locked: boolean;
  client: string | null;
}

interface Row {
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  last_active_at: number;
  locked: number;
  client: string | null;
}

const fromRow = (r: Row): SessionRow => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastActiveAt: r.last_active_at,
  locked: r.locked === 1,
  client: r.client,
});

/** HMI logins, kept in SQLite so a gateway restart does not log the line out. */
export class SessionRepo {
  private readonly getStmt;
  private readonly insertStmt;
  private readonly touchStmt;
  private readonly lockStmt;
  private readonly deleteStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], Row>('SELECT * FROM hmi_session WHERE token_hash = ?');
    this.insertStmt = db.prepare(
      `INSERT INTO hmi_session (token_hash, user_id, created_at, expires_at, last_active_at, client)
       VALUES (@tokenHash, @userId, @createdAt, @expiresAt, @createdAt, @client)`,
    );
    this.touchStmt = db.prepare<{ tokenHash: string; now: number }>('UPDATE hmi_session SET last_active_at = @now WHERE token_hash = @tokenHash');
    this.lockStmt = db.prepare<{ tokenHash: string; locked: number; now: number }>(
      'UPDATE hmi_session SET locked = @locked, last_active_at = @now WHERE token_hash = @tokenHash',
    );
    this.deleteStmt = db.prepare<[string]>('DELETE FROM hmi_session WHERE token_hash = ?');
  }

  get(tokenHash: string): SessionRow | undefined {
    const r = this.getStmt.get(tokenHash);
    return r === undefined ? undefined : fromRow(r);
  }

  insert(s: { tokenHash: string; userId: string; createdAt: number; expiresAt: number; client: string | null }): void {
    this.insertStmt.run(s);
  }

  touch(tokenHash: string, now: number): void {
    this.touchStmt.run({ tokenHash, now });
  }

  setLocked(tokenHash: string, locked: boolean, now: number): void {
    this.lockStmt.run({ tokenHash, locked: locked ? 1 : 0, now });
  }

  delete(tokenHash: string): void {
    this.deleteStmt.run(tokenHash);
  }

  /** End every login of one operator (disabled, PIN reset). Returns how many ended. */
  deleteForUser(userId: string): number {
    return this.db.prepare<[string]>('DELETE FROM hmi_session WHERE user_id = ?').run(userId).changes;
  }

  deleteExpired(now: number): number {
    return this.db.prepare<[number]>('DELETE FROM hmi_session WHERE expires_at <= ?').run(now).changes;
  }
}
