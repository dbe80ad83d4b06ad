import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorAuth } from '../../../gateway/src/auth/operator-auth.js';
import { openDatabase } from '../../../gateway/src/store/database.js';
import { SessionRepo } from '../../../gateway/src/store/sessions.js';
import { UserRepo } from '../../../gateway/src/store/users.js';
import { tempDir } from '../../helpers/test-config.js';

const run = promisify(execFile);

/** `loupe users`, as an installer runs it before the first start. */
describe('loupe users', () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: string;

  beforeAll(() => {
    tmp = tempDir();
    config = join(tmp.dir, 'loupe.yaml');
    writeFileSync(config, `gateway:\n  dataDir: ${JSON.stringify(tmp.dir)}\n`);
  });

  afterAll(() => tmp.cleanup());

  const loupe = async (args: string[], pin?: string) => {
    const env = { ...process.env, LOUPE_PIN: pin ?? '' };
    try {
      const r = await run(process.execPath, ['--import', 'tsx', join(process.cwd(), 'gateway/src/main.ts'), 'users', ...args, '--config', config], { env, timeout: 30_000 });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, out: err.stdout, err: err.stderr };
    }
  };

  it('adds, lists, resets and disables operators; PINs never appear in output', async () => {
    expect((await loupe(['add', 'anna', '--name', 'Anna Schmidt', '--role', 'admin'], '4711')).code).toBe(0);
    expect((await loupe(['add', 'ben', '--role', 'operator'], '0815')).code).toBe(0);
    const dup = await loupe(['add', 'anna'], '1111');
    expect(dup.code).toBe(1);
    expect(dup.err).toContain('LOUPE_ERR_AUTH_USER_EXISTS');
    const weak = await loupe(['add', 'carl'], '12');
    expect(weak.err).toContain('LOUPE_ERR_AUTH_PIN_POLICY');

    expect((await loupe(['reset-pin', 'ben'], '2222')).code).toBe(0);
    expect((await loupe(['disable', 'ben'])).code).toBe(0);
    const list = await loupe(['list']);
    expect(list.out).toMatch(/anna\s+Anna Schmidt\s+admin\s+active/);
    expect(list.out).toMatch(/ben\s+ben\s+operator\s+disabled/);
    expect(list.out + list.err).not.toMatch(/4711|2222|scrypt/);

    // What the CLI wrote is what the gateway checks at login.
    const log = pino({ level: 'silent' });
    const db = openDatabase(join(tmp.dir, 'loupe.db'), { synchronous: 'normal', log });
    const auth = new OperatorAuth({ users: new UserRepo(db), sessions: new SessionRepo(db), policy: { lockoutAttempts: 5, lockoutMs: 60_000, idleLockMs: 60_000, sessionMs: 3_600_000 }, log });
    expect(await auth.hasPin('anna', '4711')).toBe(true);
    expect(await auth.hasPin('ben', '2222')).toBe(false); // disabled
    db.close();
  });
});
