import type { Db } from './database.js';

export type Role = 'operator' | 'engineer' | 'admin';

export interface User {
  /** Operator id as typed at login, lower case. */
  id: string;
  name: string;
  role: Role;
  /** `scrypt$N$r$p$salt$hash`, see auth/pin-hash.ts. */
  pinHash: string;
  failedAttempts: number;
  /** Locked out after too many wrong PINs until this time (ms), or null. */
  lockedUntil: number | null;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
  lastLoginAt: number | null;
}

interface Row {
  id: string;
  name: string;
  role: Role;
  pin_hash: string;
  failed_attempts: number;
  locked_until: number | null;
  disabled: number;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

const fromRow = (r: Row): User => ({
  id: r.id,
  name: r.name,
  role: r.role,
  pinHash: r.pin_hash,
  failedAttempts: r.failed_attempts,
  lockedUntil: r.locked_until,
  disabled: r.disabled === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastLoginAt: r.last_login_at,
});

/** HMI operators: who may log in, with which role. PINs only as hashes. */
export class UserRepo {
  private readonly getStmt;
  private readonly listStmt;
  private readonly insertStmt;
  private readonly failStmt;
  private readonly loginStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], Row>('SELECT * FROM hmi_user WHERE id = ?');
    this.listStmt = db.prepare<[], Row>('SELECT * FROM hmi_user ORDER BY id');
    this.insertStmt = db.prepare(
      `INSERT INTO hmi_user (id, name, role, pin_hash, created_at, updated_at) VALUES (@id, @name, @role, @pinHash, @now, @now)`,
    );
    this.failStmt = db.prepare<{ id: string; lockAfter: number; lockedUntil: number; now: number }>(
      `UPDATE hmi_user SET failed_attempts = failed_attempts + 1,
         locked_until = CASE WHEN failed_attempts + 1 >= @lockAfter THEN @lockedUntil ELSE locked_until END,
         updated_at = @now
       WHERE id = @id`,
    );
    this.loginStmt = db.prepare<{ id: string; now: number }>(
      'UPDATE hmi_user SET failed_attempts = 0, locked_until = NULL, last_login_at = @now, updated_at = @now WHERE id = @id',
    );
  }

  get(id: string): User | undefined {
    const r = this.getStmt.get(id);
    return r === undefined ? undefined : fromRow(r);
  }

  list(): User[] {
    return this.listStmt.all().map(fromRow);
  }

  count(): number {
    return this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM hmi_user').get()?.n ?? 0;
  }

  /** Admins that can still log in: the last one may not be disabled or demoted. */
  activeAdmins(): number {
    return this.db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM hmi_user WHERE role = 'admin' AND disabled = 0`).get()?.n ?? 0;
  }

  /** Returns false when the id is taken. */
  insert(u: { id: string; name: string; role: Role; pinHash: string }, now = Date.now()): boolean {
    try {
      this.insertStmt.run({ ...u, now });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
      throw err;
    }
  }

  update(id: string, change: { name?: string; role?: Role; disabled?: boolean }, now = Date.now()): boolean {
    const sets: string[] = ['updated_at = @now'];
    if (change.name !== undefined) sets.push('name = @name');
    if (change.role !== undefined) sets.push('role = @role');
    if (change.disabled !== undefined) sets.push('disabled = @disabled');
    const args = { id, now, name: change.name ?? null, role: change.role ?? null, disabled: change.disabled ? 1 : 0 };
    return this.db.prepare(`UPDATE hmi_user SET ${sets.join(', ')} WHERE id = @id`).run(args).changes === 1;
  }

  /** New PIN; also clears a lockout (an admin's reset is how a locked-out operator gets back in early). */
  setPin(id: string, pinHash: string, now = Date.now()): boolean {
    return (
      this.db
        .prepare('UPDATE hmi_user SET pin_hash = @pinHash, failed_attempts = 0, locked_until = NULL, updated_at = @now WHERE id = @id')
        .run({ id, pinHash, now }).changes === 1
    );
  }

  resetFailures(id: string, now = Date.now()): void {
    this.db.prepare('UPDATE hmi_user SET failed_attempts = 0, locked_until = NULL, updated_at = @now WHERE id = @id').run({ id, now });
  }

  /** Count a wrong PIN; the `lockAfter`-th in a row locks the id out until `lockedUntil`. */
  recordFailure(id: string, lockAfter: number, lockedUntil: number, now = Date.now()): void {
    this.failStmt.run({ id, lockAfter, lockedUntil, now });
  }

  recordLogin(id: string, now = Date.now()): void {
    this.loginStmt.run({ id, now });
  }
}
