import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OperatorAuth } from '../../../gateway/src/auth/operator-auth.js';
import { verifyPin } from '../../../gateway/src/auth/pin-hash.js';
import { isLoupeError } from '../../../gateway/src/errors.js';
import { openDatabase, type Db } from '../../../gateway/src/store/database.js';
import { SessionRepo } from '../../../gateway/src/store/sessions.js';
import { UserRepo } from '../../../gateway/src/store/users.js';
import { tempDir } from '../../helpers/test-config.js';

const log = pino({ level: 'silent' });
const MIN = 60_000;

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | null> {
  try {
    await (typeof p === 'function' ? p() : p);
    return null;
  } catch (err) {
    return isLoupeError(err) ? err.code : String(err);
  }
}

/** Logins, lockout and the idle lock against a real SQLite file, with a clock the test moves. */
describe('operator authentication', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Db;
  let now: number;
  let auth: OperatorAuth;
  const file = () => join(tmp.dir, 'loupe.db');
  const open = () => {
    db = openDatabase(file(), { synchronous: 'normal', log });
    auth = new OperatorAuth({
      users: new UserRepo(db),
      sessions: new SessionRepo(db),
      policy: { lockoutAttempts: 3, lockoutMs: 5 * MIN, idleLockMs: 5 * MIN, sessionMs: 12 * 60 * MIN },
      log,
      now: () => now,
    });
  };

  beforeEach(async () => {
    tmp = tempDir();
    now = Date.parse('2026-11-25T08:00:00Z');
    open();
    await auth.addUser({ id: 'Anna', name: 'Anna', role: 'operator', pin: '4711' });
    await auth.addUser({ id: 'ben', name: 'Ben', role: 'operator', pin: '4711' });
  });

  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  it('keeps PINs only as salted scrypt hashes', async () => {
    const users = new UserRepo(db);
    const a = users.get('anna')!;
    const b = users.get('ben')!;
    expect(a.pinHash).toMatch(/^scrypt\$\d+\$8\$1\$/);
    expect(a.pinHash).not.toBe(b.pinHash); // same PIN, different salt
    expect(await verifyPin('4711', a.pinHash)).toBe(true);
    expect(await verifyPin('4712', a.pinHash)).toBe(false);
    expect(await verifyPin('4711', 'garbage')).toBe(false);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(readFileSync(file()).includes(Buffer.from('4711'))).toBe(false);
    expect(await code(auth.addUser({ id: 'carl', name: 'Carl', role: 'operator', pin: '12ab' }))).toBe('LOUPE_ERR_AUTH_PIN_POLICY');
    expect(await code(auth.addUser({ id: 'anna', name: 'Anna 2', role: 'operator', pin: '1234' }))).toBe('LOUPE_ERR_AUTH_USER_EXISTS');
  });

  it('locks an operator id out after repeated wrong PINs, until the lockout ends or an admin resets the PIN', async () => {
    expect(await code(auth.login('anna', '0000', null))).toBe('LOUPE_ERR_AUTH_INVALID');
    expect(await code(auth.login('anna', '0000', null))).toBe('LOUPE_ERR_AUTH_INVALID');
    expect(await code(auth.login('anna', '0000', null))).toBe('LOUPE_ERR_AUTH_LOCKED_OUT');
    expect(await code(auth.login('anna', '4711', null))).toBe('LOUPE_ERR_AUTH_LOCKED_OUT');
    // Other operators are not affected; unknown ids answer like a wrong PIN.
    expect(await code(auth.login('ben', '4711', null))).toBeNull();
    expect(await code(auth.login('nobody', '4711', null))).toBe('LOUPE_ERR_AUTH_INVALID');

    now += 5 * MIN + 1;
    expect(await code(auth.login('anna', '4711', null))).toBeNull();
    // A success clears the count: two wrong PINs later the id still works.
    expect(await code(auth.login('anna', '0000', null))).toBe('LOUPE_ERR_AUTH_INVALID');
    expect(await code(auth.login('anna', '0000', null))).toBe('LOUPE_ERR_AUTH_INVALID');
    expect(await code(auth.login('anna', '4711', null))).toBeNull();

    for (let n = 0; n < 3; n++) await code(auth.login('anna', '0000', null));
    expect(auth.list().find((u) => u.id === 'anna')?.lockedOut).toBe(true);
    await auth.resetPin('anna', '2468');
    expect(await code(auth.login('anna', '2468', null))).toBeNull();
  });

  it('locks a session after inactivity; only the same PIN unlocks it', async () => {
    const { token } = await auth.login('anna', '4711', 'test');
    now += 4 * MIN;
    auth.touch(auth.resolve(token));
    now += 4 * MIN;
    expect(auth.resolve(token).locked).toBe(false); // the touch restarted the idle clock
    now += 2 * MIN;
    expect(await code(() => auth.resolve(token))).toBe('LOUPE_ERR_AUTH_SESSION_LOCKED');
    const locked = auth.resolve(token, { allowLocked: true });
    expect(locked.locked).toBe(true);
    expect(await code(auth.unlock(locked, '1111'))).toBe('LOUPE_ERR_AUTH_INVALID');
    await auth.unlock(locked, '4711');
    expect(auth.resolve(token).user.id).toBe('anna');
  });

  it('ends sessions at their lifetime, on logout, and when the operator is disabled', async () => {
    const a = await auth.login('anna', '4711', null);
    now += 12 * 60 * MIN + 1;
    expect(await code(() => auth.resolve(a.token))).toBe('LOUPE_ERR_AUTH_REQUIRED');
    const b = await auth.login('anna', '4711', null);
    auth.logout(auth.resolve(b.token));
    expect(await code(() => auth.resolve(b.token))).toBe('LOUPE_ERR_AUTH_REQUIRED');
    const c = await auth.login('anna', '4711', null);
    auth.update('anna', { disabled: true });
    expect(await code(() => auth.resolve(c.token))).toBe('LOUPE_ERR_AUTH_REQUIRED');
    expect(await code(auth.login('anna', '4711', null))).toBe('LOUPE_ERR_AUTH_DISABLED');
  });

  it('keeps sessions across a restart (the database is reopened)', async () => {
    const { token } = await auth.login('ben', '4711', null);
    db.close();
    open();
    expect(auth.resolve(token).user.id).toBe('ben');
  });

  it('never lets the last active admin be disabled or demoted', async () => {
    await auth.addUser({ id: 'boss', name: 'Boss', role: 'admin', pin: '9999' });
    expect(await code(() => auth.update('boss', { disabled: true }))).toBe('LOUPE_ERR_AUTH_LAST_ADMIN');
    expect(await code(() => auth.update('boss', { role: 'engineer' }))).toBe('LOUPE_ERR_AUTH_LAST_ADMIN');
    await auth.addUser({ id: 'boss2', name: 'Boss 2', role: 'admin', pin: '9999' });
    expect(auth.update('boss', { role: 'engineer' }).role).toBe('engineer');
  });

  it('seeds demo users only into an empty table', async () => {
    expect(await auth.seed([{ id: 'admin', name: 'Admin', role: 'admin', pin: '2580' }])).toEqual([]);
  });
});
