import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { LoupeError } from '../errors.js';
import { LATEST_SCHEMA_VERSION, migrations } from './migrations.js';

export type Db = Database.Database;

/**
 * Open the gateway's SQLite file: WAL so the API reads while the line
 * writes, migrations applied in order, and a refusal to run against a schema
 * newer than this build knows (a downgrade would silently misread it).
 */
export function openDatabase(file: string, opts: { synchronous: 'full' | 'normal'; log: Logger }): Db {
  mkdirSync(dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw new LoupeError('LOUPE_ERR_STORE_WRITE', `cannot open database ${file}: ${(err as Error).message}`, { cause: err });
  }
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.synchronous.toUpperCase()}`);
  db.pragma('foreign_keys = ON');
  // The API's readers and the line's writer share the file; wait rather than fail on a brief lock.
  db.pragma('busy_timeout = 5000');

  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > LATEST_SCHEMA_VERSION) {
    db.close();
    throw new LoupeError(
      'LOUPE_ERR_STORE_SCHEMA',
      `database ${file} has schema version ${current}, this gateway knows up to ${LATEST_SCHEMA_VERSION}: run a newer Loupe or restore a backup`,
    );
  }
  for (const m of migrations.filter((x) => x.version > current)) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    opts.log.info({ file, version: m.version, migration: m.name }, 'database migrated');
  }
  return db;
}
