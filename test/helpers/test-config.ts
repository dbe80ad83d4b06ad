import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../gateway/src/config/load.js';
import type { LoupeConfig, LoupeConfigInput } from '../../gateway/src/config/schema.js';

/** A temp folder removed by `cleanup()`. */
export function tempDir(prefix = 'loupe-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A validated config for tests: data under `dataDir`, HTTP on a free loopback port, CPU only, no warm-up. */
export function testConfig(dataDir: string, input: LoupeConfigInput = {}): LoupeConfig {
  const stations = (input.stations ?? [{ id: 'station-1' }]).map((s) => ({
    ...s,
    model: { providers: ['cpu' as const], warmupRuns: 0, ...s.model },
  }));
  return parseConfig(
    {
      ...input,
      gateway: { dataDir, ...input.gateway },
      http: { port: 0, ...input.http },
      log: { level: 'silent', pretty: 'never', ...input.log },
      store: { fsyncImages: false, synchronous: 'normal', ...input.store },
      stations,
    },
    'test',
  );
}

export const silentLog = pino({ level: 'silent' });
