import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { openStore } from '../../gateway/src/store/store.js';

const dir = mkdtempSync(join(tmpdir(), 'loupe-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('store crash safety', () => {
  it('loses no committed inspection or its image when the process is killed with SIGKILL mid-write', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/store-writer.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const committed: string[] = [];
    let buf = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        committed.push(...lines);
        if (committed.length >= 150 && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((r) => child.on('exit', r));
    expect(committed.length).toBeGreaterThanOrEqual(150);

    const store = openStore(
      { dbFile: join(dir, 'loupe.db'), imagesDir: join(dir, 'images'), synchronous: 'full', fsyncImages: true, maxDiskMb: 100, maxAgeDays: 1, minFreeDiskMb: 0, retentionIntervalMs: 60_000 },
      pino({ level: 'silent' }),
    );
    try {
      for (const id of committed) {
        const i = store.inspections.get(id);
        expect(i, `inspection ${id}`).toBeDefined();
        expect(statSync(store.images.path(i?.imageRef ?? '')).size).toBe(20_004);
      }
      // The half-written image of the interrupted part was cleared from the temp folder on reopen.
      expect(readdirSync(join(dir, 'images', '.tmp'))).toEqual([]);
      // Parts that were waiting for review are still waiting after the crash.
      expect(store.inspections.awaitingReview().length).toBeGreaterThanOrEqual(committed.length);
    } finally {
      store.close();
    }
  });
});
