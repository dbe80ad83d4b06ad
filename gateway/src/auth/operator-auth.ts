import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { LoupeError } from '../errors.js';
import type { SessionRepo, SessionRow } from '../store/sessions.js';
import type { Role, User, UserRepo } from '../store/users.js';
import { checkPinPolicy, dummyHash, hashPin, verifyPin } from './pin-hash.js';
import { normaliseOperatorId, OPERATOR_ID } from './roles.js';

export interface AuthPolicy {
  /** Wrong PINs in a row before the id is locked out. */
  lockoutAttempts: number;
  lockoutMs: number;
  /** A session is locked after this long without an operator action. */
  idleLockMs: number;
  /** A session ends this long after login. */
  sessionMs: number;
}

/** What a request authenticated by a session cookie carries. */
export interface Operator {
  user: Pick<User, 'id' | 'name' | 'role'>;
  session: SessionRow;
  locked: boolean;
}

/** Public view of an operator (never the PIN hash). */
export interface UserView {
  id: string;
  name: string;
  role: Role;
  disabled: boolean;
  lockedOut: boolean;
  lockedUntil: string | null;
  lastLoginAt: string | null;
}

/** Session activity is written at most this often, not on every request. */
const TOUCH_EVERY_MS = 5_000;

/**
 * Operators and their sessions: PIN login with lockout, idle lock, roles.
 * Sessions live in the store, so a gateway restart keeps the line logged in;
 * the cookie carries a random token whose hash only is stored.
 */
export class OperatorAuth {
  constructor(
    private readonly deps: { users: UserRepo; sessions: SessionRepo; policy: AuthPolicy; log: Logger; now?: () => number },
  ) {}

  async login(rawId: string, pin: string, client: string | null): Promise<{ token: string; operator: Operator }> {
    const now = this.now();
    const id = normaliseOperatorId(rawId);
    const user = OPERATOR_ID.test(id) ? this.deps.users.get(id) : undefined;
    if (user) this.refuseIfLockedOut(user, now);
    const ok = await verifyPin(pin, user?.pinHash ?? (await dummyHash()));
    if (!user || !ok) {
      if (user) this.countFailure(user, now);
      this.deps.log.warn({ operatorId: id, known: user !== undefined }, 'HMI login refused: wrong operator id or PIN');
      throw new LoupeError('LOUPE_ERR_AUTH_INVALID');
    }
    if (user.disabled) throw new LoupeError('LOUPE_ERR_AUTH_DISABLED', `operator ${id} is disabled: ask an admin`);
    this.deps.users.recordLogin(id, now);
    this.deps.sessions.deleteExpired(now);
    const token = randomBytes(32).toString('base64url');
    const row = { tokenHash: hashToken(token), userId: id, createdAt: now, expiresAt: now + this.deps.policy.sessionMs, client: client?.slice(0, 200) ?? null };
    this.deps.sessions.insert(row);
    this.deps.log.info({ operatorId: id, role: user.role }, `operator ${id} logged in`);
    return { token, operator: { user: { id, name: user.name, role: user.role }, session: { ...row, lastActiveAt: now, locked: false }, locked: false } };
  }

  /**
   * The operator behind a cookie token. Locks the session when it has been
   * idle too long; a locked session is refused unless `allowLocked`.
   */
  resolve(token: string | undefined, opts: { allowLocked?: boolean } = {}): Operator {
    if (!token) throw new LoupeError('LOUPE_ERR_AUTH_REQUIRED');
    const now = this.now();
    const tokenHash = hashToken(token);
    const session = this.deps.sessions.get(tokenHash);
    if (!session) throw new LoupeError('LOUPE_ERR_AUTH_REQUIRED', 'not logged in, or the session ended: log in again');
    if (session.expiresAt <= now) {
      this.deps.sessions.delete(tokenHash);
      throw new LoupeError('LOUPE_ERR_AUTH_REQUIRED', 'the session has expired: log in again');
    }
    const user = this.deps.users.get(session.userId);
    if (!user || user.disabled) {
      this.deps.sessions.delete(tokenHash);
      throw new LoupeError('LOUPE_ERR_AUTH_REQUIRED', 'this operator can no longer log in');
    }
    let locked = session.locked;
    if (!locked && now - session.lastActiveAt > this.deps.policy.idleLockMs) {
      this.deps.sessions.setLocked(tokenHash, true, session.lastActiveAt);
      locked = true;
    }
    if (locked && !opts.allowLocked) {
      throw new LoupeError('LOUPE_ERR_AUTH_SESSION_LOCKED', undefined, { details: { operatorId: user.id, name: user.name } });
    }
    return { user: { id: user.id, name: user.name, role: user.role }, session: { ...session, locked }, locked };
  }

  /** An operator action: the idle lock counts from now. */
  touch(op: Operator): void {
    const now = this.now();
    if (now - op.session.lastActiveAt >= TOUCH_EVERY_MS) this.deps.sessions.touch(op.session.tokenHash, now);
  }

  lock(op: Operator): void {
    this.deps.sessions.setLocked(op.session.tokenHash, true, this.now());
  }

  /** The same operator enters the PIN again; wrong PINs count towards the lockout like at login. */
  async unlock(op: Operator, pin: string): Promise<Operator> {
    const now = this.now();
    const user = this.deps.users.get(op.user.id);
    if (!user) throw new LoupeError('LOUPE_ERR_AUTH_REQUIRED');
    this.refuseIfLockedOut(user, now);
    if (!(await verifyPin(pin, user.pinHash))) {
      this.countFailure(user, now);
      throw new LoupeError('LOUPE_ERR_AUTH_INVALID', 'wrong PIN');
    }
    this.deps.users.recordLogin(user.id, now);
    this.deps.sessions.setLocked(op.session.tokenHash, false, now);
    return { ...op, session: { ...op.session, locked: false, lastActiveAt: now }, locked: false };
  }

  logout(op: Operator): void {
    this.deps.sessions.delete(op.session.tokenHash);
    this.deps.log.info({ operatorId: op.user.id }, `operator ${op.user.id} logged out`);
  }

  async changeOwnPin(op: Operator, currentPin: string, newPin: string): Promise<void> {
    const user = this.deps.users.get(op.user.id);
    if (!user || !(await verifyPin(currentPin, user.pinHash))) {
      if (user) this.countFailure(user, this.now());
      throw new LoupeError('LOUPE_ERR_AUTH_INVALID', 'current PIN is wrong');
    }
    this.deps.users.setPin(user.id, await hashPin(newPin));
    this.deps.log.info({ operatorId: user.id }, `operator ${user.id} changed their PIN`);
  }

  // --- administration (admin role; also the `loupe users` command) ---

  list(): UserView[] {
    return this.deps.users.list().map((u) => this.view(u));
  }

  /** Display name of an operator, for messages such as "already decided by ...". */
  nameOf(id: string): string | null {
    return this.deps.users.get(id)?.name ?? null;
  }

  async addUser(input: { id: string; name: string; role: Role; pin: string }): Promise<UserView> {
    const id = normaliseOperatorId(input.id);
    if (!OPERATOR_ID.test(id)) throw new LoupeError('LOUPE_ERR_API_BAD_REQUEST', `operator id "${input.id}": expected 1-32 of a-z, 0-9, ".", "_", "-"`);
    checkPinPolicy(input.pin);
    const name = input.name.trim() || id;
    if (!this.deps.users.insert({ id, name, role: input.role, pinHash: await hashPin(input.pin) })) {
      throw new LoupeError('LOUPE_ERR_AUTH_USER_EXISTS', `operator ${id} exists: use reset-pin to change the PIN`);
    }
    this.deps.log.info({ operatorId: id, role: input.role }, `operator ${id} added`);
    return this.view(this.mustGet(id));
  }

  /** Set a new PIN, clear a lockout and end the operator's sessions. */
  async resetPin(rawId: string, pin: string): Promise<UserView> {
    const id = normaliseOperatorId(rawId);
    this.mustGet(id);
    this.deps.users.setPin(id, await hashPin(pin));
    this.deps.sessions.deleteForUser(id);
    this.deps.log.info({ operatorId: id }, `PIN of operator ${id} reset`);
    return this.view(this.mustGet(id));
  }

  update(rawId: string, change: { name?: string; role?: Role; disabled?: boolean }): UserView {
    const id = normaliseOperatorId(rawId);
    const user = this.mustGet(id);
    const losesAdmin = user.role === 'admin' && !user.disabled && (change.disabled === true || (change.role !== undefined && change.role !== 'admin'));
    if (losesAdmin && this.deps.users.activeAdmins() <= 1) {
      throw new LoupeError('LOUPE_ERR_AUTH_LAST_ADMIN', `operator ${id} is the last active admin: add another admin first`);
    }
    this.deps.users.update(id, { ...change, ...(change.name !== undefined ? { name: change.name.trim() || id } : {}) });
    if (change.disabled === true) this.deps.sessions.deleteForUser(id);
    this.deps.log.info({ operatorId: id, ...change }, `operator ${id} changed`);
    return this.view(this.mustGet(id));
  }

  /**
   * First start: create the given users when nobody exists yet. Returns the
   * ones created, so the caller can print their demo credentials.
   */
  async seed(users: readonly { id: string; name: string; role: Role; pin: string }[]): Promise<string[]> {
    if (this.deps.users.count() > 0) return [];
    for (const u of users) await this.addUser(u);
    return users.map((u) => u.id);
  }

  /** Whether operator `id` still has PIN `pin` (to warn while demo PINs are in use). */
  async hasPin(id: string, pin: string): Promise<boolean> {
    const u = this.deps.users.get(id);
    return u !== undefined && !u.disabled && (await verifyPin(pin, u.pinHash));
  }

  private refuseIfLockedOut(user: User, now: number): void {
    if (user.lockedUntil !== null && user.lockedUntil > now) {
      const retryAfterS = Math.ceil((user.lockedUntil - now) / 1000);
      throw new LoupeError('LOUPE_ERR_AUTH_LOCKED_OUT', `operator ${user.id} is locked out for ${retryAfterS} s after too many wrong PINs`, {
        details: { retryAfterS },
      });
    }
  }

  private countFailure(user: User, now: number): void {
    const { lockoutAttempts, lockoutMs } = this.deps.policy;
    // A lockout that ran out starts a fresh count.
    const expired = user.lockedUntil !== null && user.lockedUntil <= now;
    if (expired) this.deps.users.resetFailures(user.id, now);
    this.deps.users.recordFailure(user.id, lockoutAttempts, now + lockoutMs, now);
    const after = this.deps.users.get(user.id);
    if (after?.lockedUntil && after.lockedUntil > now) {
      this.deps.log.warn({ operatorId: user.id, attempts: after.failedAttempts }, `operator ${user.id} locked out after ${after.failedAttempts} wrong PINs`);
      this.refuseIfLockedOut(after, now);
    }
  }

  private mustGet(id: string): User {
    const u = this.deps.users.get(id);
    if (!u) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no operator ${id}`);
    return u;
  }

  private view(u: User): UserView {
    const now = this.now();
    const lockedOut = u.lockedUntil !== null && u.lockedUntil > now;
    return {
      id: u.id,
      name: u.name,
      role: u.role,
      disabled: u.disabled,
      lockedOut,
      lockedUntil: lockedOut && u.lockedUntil !== null ? new Date(u.lockedUntil).toISOString() : null,
      lastLoginAt: u.lastLoginAt === null ? null : new Date(u.lastLoginAt).toISOString(),
    };
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
