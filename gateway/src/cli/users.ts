import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { OperatorAuth, type UserView } from '../auth/operator-auth.js';
import { ROLES } from '../auth/roles.js';
import { loadConfig } from '../config/load.js';
import { errorMessage, isLoupeError } from '../errors.js';
import { createLogger } from '../log.js';
import { openDatabase } from '../store/database.js';
import { SessionRepo } from '../store/sessions.js';
import { UserRepo, type Role } from '../store/users.js';
import { defaultConfigFile } from './paths.js';

const USAGE = `usage: loupe users <subcommand> [--config FILE]

  add ID [--name NAME] [--role operator|engineer|admin]   add an operator (asks for the PIN)
  list                                                    list operators, roles and lockouts
  reset-pin ID                                            set a new PIN, clear a lockout, end their sessions
  disable ID                                              stop an operator logging in (ends their sessions)
  enable ID                                               let a disabled operator log in again

The PIN (4 to 12 digits) is asked twice on a terminal, read from the first line
of standard input otherwise, or taken from $LOUPE_PIN. It never goes on the
command line, where other users of the machine could read it.
Works while the gateway runs (same database file).
`;

/** `loupe users add|list|reset-pin|disable|enable`: the people who may use the HMI. */
export async function usersCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, name: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [sub, id] = positionals;
  if (values.help || !sub) {
    process.stdout.write(USAGE);
    return sub || values.help ? 0 : 2;
  }
  const needsId = sub !== 'list';
  if (needsId && !id) {
    process.stderr.write(`loupe users ${sub}: missing operator ID\n\n${USAGE}`);
    return 2;
  }
  const role = values.role ?? 'operator';
  if (!ROLES.includes(role as Role)) {
    process.stderr.write(`loupe users: --role ${role}: expected one of ${ROLES.join(', ')}\n`);
    return 2;
  }

  const cfg = loadConfig(values.config ?? process.env.LOUPE_CONFIG ?? defaultConfigFile());
  const log = createLogger({ level: 'warn', pretty: cfg.log.pretty });
  const db = openDatabase(cfg.store.dbFile, { synchronous: cfg.store.synchronous, log });
  const auth = new OperatorAuth({
    users: new UserRepo(db),
    sessions: new SessionRepo(db),
    policy: { lockoutAttempts: cfg.hmi.lockoutAttempts, lockoutMs: cfg.hmi.lockoutMinutes * 60_000, idleLockMs: cfg.hmi.idleLockMinutes * 60_000, sessionMs: cfg.hmi.sessionHours * 3_600_000 },
    log,
  });
  try {
    switch (sub) {
      case 'list':
        printTable(auth.list());
        return 0;
      case 'add': {
        const u = await auth.addUser({ id: id ?? '', name: values.name ?? '', role: role as Role, pin: await readPin() });
        process.stdout.write(`added ${u.id} (${u.name}, ${u.role})\n`);
        return 0;
      }
      case 'reset-pin': {
        const u = await auth.resetPin(id ?? '', await readPin());
        process.stdout.write(`PIN of ${u.id} changed; lockout cleared; open sessions ended\n`);
        return 0;
      }
      case 'disable':
      case 'enable': {
        const u = auth.update(id ?? '', { disabled: sub === 'disable' });
        process.stdout.write(`${u.id} ${u.disabled ? 'disabled: cannot log in, sessions ended' : 'enabled'}\n`);
        return 0;
      }
      default:
        process.stderr.write(`loupe users: unknown subcommand "${sub}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`loupe users ${sub}: ${errorMessage(err)}${isLoupeError(err) ? ` (${err.code})` : ''}\n`);
    return 1;
  } finally {
    db.close();
  }
}

function printTable(users: UserView[]): void {
  if (users.length === 0) {
    process.stdout.write('no operators yet: add one with `loupe users add ID --role admin`\n');
    return;
  }
  const rows = [['ID', 'NAME', 'ROLE', 'STATE', 'LAST LOGIN'], ...users.map((u) => [u.id, u.name, u.role, u.disabled ? 'disabled' : u.lockedOut ? `locked out until ${u.lockedUntil}` : 'active', u.lastLoginAt ?? '-'])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()}\n`);
}

async function readPin(): Promise<string> {
  if (process.env.LOUPE_PIN) return process.env.LOUPE_PIN;
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line.trim();
    }
    throw new Error('no PIN on standard input');
  }
  const first = await askHidden('PIN (4-12 digits): ');
  const second = await askHidden('PIN again: ');
  if (first !== second) throw new Error('the two PINs differ');
  return first;
}

/** Read a line from the terminal without echoing it. */
function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stdout.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stdout.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
