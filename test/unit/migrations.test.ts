import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../gateway/src/store/database.js';
import { LATEST_SCHEMA_VERSION, migrations } from '../../gateway/src/store/migrations.js';
import { silentLog, tempDir } from '../helpers/test-config.js';

const tmp = tempDir('loupe-migrations-');
afterAll(() => tmp.cleanup());

describe('store migrations', () => {
  it('are numbered 1..N without gaps, so no database can skip one', () => {
    expect(migrations.map((m) => m.version)).toEqual(Array.from({ length: migrations.length }, (_, i) => i + 1));
  });

  it('bring a new database to the latest version and are a no-op the second time', () => {
    const file = join(tmp.dir, 'a.db');
    openDatabase(file, { synchronous: 'normal', log: silentLog }).close();
    const db = openDatabase(file, { synchronous: 'normal', log: silentLog });
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('refuse a database written by a newer gateway', () => {
    const file = join(tmp.dir, 'b.db');
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openDatabase(file, { synchronous: 'normal', log: silentLog })).toThrow(expect.objectContaining({ code: 'LOUPE_ERR_STORE_SCHEMA' }));
  });
});
