import type { Db } from './database.js';

export type TokenScope = 'read' | 'admin';

export interface ApiTokenRow {
  id: string;
  name: string;
  scope: TokenScope;
  /** sha256 of the token, hex. */
  tokenHash: string;
  /** First characters of the token, so a person can tell tokens apart. */
  hint: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

interface Row {
  id: string;
  name: string;
  scope: TokenScope;
  token_hash: string;
  hint: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

const fromRow = (r: Row): ApiTokenRow => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  tokenHash: r.token_hash,
  hint: r.hint,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
  revokedBy: r.revoked_by,
});

export interface AuditEntry {
  at: number;
  actor: string;
  actorKind: 'session' | 'token';
  method: string;
  route: string;
  url: string;
  status: number;
  ip: string | null;
}

/** API tokens (hashes only) and the audit trail of API writes. */
export class ApiTokenRepo {
  private readonly byHashStmt;
  private readonly byIdStmt;
  private readonly insertStmt;
  private readonly usedStmt;
  private readonly revokeStmt;
  private readonly auditStmt;

  constructor(private readonly db: Db) {
    this.byHashStmt = db.prepare<[string], Row>('SELECT * FROM api_token WHERE token_hash = ?');
    this.byIdStmt = db.prepare<[string], Row>('SELECT * FROM api_token WHERE id = ?');
    this.insertStmt = db.prepare(
      `INSERT INTO api_token (id, name, scope, token_hash, hint, created_by, created_at, expires_at)
       VALUES (@id, @name, @scope, @tokenHash, @hint, @createdBy, @createdAt, @expiresAt)`,
    );
    this.usedStmt = db.prepare<{ id: string; at: number }>('UPDATE api_token SET last_used_at = @at WHERE id = @id');
    this.revokeStmt = db.prepare<{ id: string; at: number; by: string }>(
      'UPDATE api_token SET revoked_at = @at, revoked_by = @by WHERE id = @id AND revoked_at IS NULL',
    );
    this.auditStmt = db.prepare(
      `INSERT INTO api_audit (at, actor, actor_kind, method, route, url, status, ip)
       VALUES (@at, @actor, @actorKind, @method, @route, @url, @status, @ip)`,
    );
  }

  byHash(tokenHash: string): ApiTokenRow | undefined {
    const r = this.byHashStmt.get(tokenHash);
    return r === undefined ? undefined : fromRow(r);
  }

  byId(id: string): ApiTokenRow | undefined {
    const r = this.byIdStmt.get(id);
    return r === undefined ? undefined : fromRow(r);
  }

  /** Newest first; `createdBy` limits the list to one person's tokens. */
  list(createdBy?: string): ApiTokenRow[] {
    const rows =
      createdBy === undefined
        ? this.db.prepare<[], Row>('SELECT * FROM api_token ORDER BY id DESC').all()
        : this.db.prepare<[string], Row>('SELECT * FROM api_token WHERE created_by = ? ORDER BY id DESC').all(createdBy);
    return rows.map(fromRow);
  }

  insert(t: Omit<ApiTokenRow, 'lastUsedAt' | 'revokedAt' | 'revokedBy'>): void {
    this.insertStmt.run(t);
  }

  markUsed(id: string, at: number): void {
    this.usedStmt.run({ id, at });
  }

  /** Returns false when the token was revoked already. */
  revoke(id: string, by: string, at: number): boolean {
    return this.revokeStmt.run({ id, at, by }).changes === 1;
  }

  audit(e: AuditEntry): void {
    this.auditStmt.run(e);
  }

  /** The audit trail, newest first. */
  auditTrail(limit: number): AuditEntry[] {
    return this.db
      .prepare<[number], { at: number; actor: string; actor_kind: 'session' | 'token'; method: string; route: string; url: string; status: number; ip: string | null }>(
        'SELECT * FROM api_audit ORDER BY seq DESC LIMIT ?',
      )
      .all(limit)
      .map((r) => ({ at: r.at, actor: r.actor, actorKind: r.actor_kind, method: r.method, route: r.route, url: r.url, status: r.status, ip: r.ip }));
  }
}
