import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import { LoupeError } from '../errors.js';
import type { ApiTokenRepo, ApiTokenRow, TokenScope } from '../store/api-tokens.js';

/** Every token starts with this, so a leaked one is recognisable (and greppable in a repository scan). */
export const TOKEN_PREFIX = 'loupe_';

/** last_used_at is written at most this often per token, not on every request. */
const MARK_USED_EVERY_MS = 60_000;

/** What lists show about a token: never the token, never its hash. */
export interface TokenView {
  id: string;
  name: string;
  scope: TokenScope;
  /** First characters of the token, e.g. "loupe_Xy3k". */
  hint: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  active: boolean;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * API tokens for scripts: 32 random bytes, shown once when created and
 * stored only as a sha256 hash (a token is random, so a fast hash is enough;
 * PINs are not, which is why they get scrypt). Scoped read (GET only) or
 * admin, optionally expiring, revocable at once.
 */
export class ApiTokens {
  private readonly markedAt = new Map<string, number>();

  constructor(private readonly deps: { repo: ApiTokenRepo; log: Logger; now?: () => number }) {}

  create(input: { name: string; scope: TokenScope; expiresInDays?: number | undefined; createdBy: string }): { token: string; view: TokenView } {
    const now = this.now();
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row = {
      id: ulid(now),
      name: input.name.trim(),
      scope: input.scope,
      tokenHash: hashApiToken(token),
      hint: token.slice(0, TOKEN_PREFIX.length + 4),
      createdBy: input.createdBy,
      createdAt: now,
      expiresAt: input.expiresInDays === undefined ? null : now + Math.round(input.expiresInDays * 86_400_000),
    };
    this.deps.repo.insert(row);
    this.deps.log.info({ tokenId: row.id, scope: row.scope, by: input.createdBy }, `API token ${row.id} (${row.scope}) "${row.name}" created by ${input.createdBy}`);
    return { token, view: this.view({ ...row, lastUsedAt: null, revokedAt: null, revokedBy: null }) };
  }

  /** The token behind a bearer value; LOUPE_ERR_AUTH_TOKEN_INVALID when unknown, revoked or expired. */
  verify(token: string): ApiTokenRow {
    const now = this.now();
    const row = token.startsWith(TOKEN_PREFIX) ? this.deps.repo.byHash(hashApiToken(token)) : undefined;
    if (!row) throw new LoupeError('LOUPE_ERR_AUTH_TOKEN_INVALID');
    if (row.revokedAt !== null) throw new LoupeError('LOUPE_ERR_AUTH_TOKEN_INVALID', `API token ${row.id} was revoked`);
    if (row.expiresAt !== null && row.expiresAt <= now) throw new LoupeError('LOUPE_ERR_AUTH_TOKEN_INVALID', `API token ${row.id} expired`);
    if (now - (this.markedAt.get(row.id) ?? 0) >= MARK_USED_EVERY_MS) {
      this.deps.repo.markUsed(row.id, now);
      this.markedAt.set(row.id, now);
    }
    return row;
  }

  get(id: string): TokenView {
    const row = this.deps.repo.byId(id);
    if (!row) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no API token ${id}`);
    return this.view(row);
  }

  /** All tokens, or those one person created. */
  list(createdBy?: string): TokenView[] {
    return this.deps.repo.list(createdBy).map((r) => this.view(r));
  }

  /** Revoke at once; revoking twice is not an error (the first time stands). */
  revoke(id: string, by: string): TokenView {
    const row = this.deps.repo.byId(id);
    if (!row) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no API token ${id}`);
    if (this.deps.repo.revoke(id, by, this.now())) this.deps.log.info({ tokenId: id, by }, `API token ${id} revoked by ${by}`);
    return this.get(id);
  }

  private view(r: ApiTokenRow): TokenView {
    return {
      id: r.id,
      name: r.name,
      scope: r.scope,
      hint: r.hint,
      createdBy: r.createdBy,
      createdAt: new Date(r.createdAt).toISOString(),
      expiresAt: iso(r.expiresAt),
      lastUsedAt: iso(r.lastUsedAt),
      revokedAt: iso(r.revokedAt),
      revokedBy: r.revokedBy,
      active: r.revokedAt === null && (r.expiresAt === null || r.expiresAt > this.now()),
    };
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
