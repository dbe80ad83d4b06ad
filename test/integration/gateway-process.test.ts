import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from '../helpers/test-config.js';

const tmp = tempDir('loupe-process-');
afterAll(() => tmp.cleanup());

interface LogLine {
  msg: string;
  url?: string;
  parts?: number;
  level: number;
}

describe('gateway process', () => {
  it('serves health and the API, inspects parts, and on SIGTERM finishes them, closes the store and exits 0', async () => {
    const config = join(tmp.dir, 'loupe.yaml');
    writeFileSync(
      config,
      [
        `gateway: { dataDir: ${JSON.stringify(join(tmp.dir, 'data'))} }`,
        'http: { port: 0 }',
        'log: { pretty: never }',
        'stations:',
        '  - id: line-a',
        '    trigger: { type: interval, intervalMs: 50 }',
        '    model: { providers: [cuda, cpu] }',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'gateway/src/main.ts'), 'run', '--config', config], {
      env: { ...process.env, LOUPE__LOG__LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: LogLine[] = [];
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const parts = out.split('\n');
      out = parts.pop() ?? '';
      for (const p of parts) lines.push(JSON.parse(p) as LogLine);
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Whatever fails below, no gateway outlives the test.
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const waitFor = async (pred: (l: LogLine) => boolean) => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const hit = lines.find(pred);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`log line not seen; got: ${lines.map((l) => l.msg).join(' | ')}`);
    };

    const running = await waitFor((l) => l.msg.startsWith('Loupe is running'));
    // The fallback from an unavailable GPU provider is one clear line, then the model runs on the CPU.
    expect(lines.find((l) => l.msg.startsWith('execution provider cuda unavailable'))?.level).toBe(40);
    expect(lines.some((l) => l.msg === 'model demo-part@1.0.0 running on CPU')).toBe(true);

    const url = running.url ?? '';
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    // The engineer API needs credentials; health and metrics do not.
    expect((await fetch(`${url}/api/stations`)).status).toBe(401);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const counted = [...metrics.matchAll(/loupe_parts_total\{station="line-a",verdict="\w+"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(counted).toBeGreaterThan(5);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const stopped = await waitFor((l) => l.msg === 'station line-a stopped');
    const db = new Database(join(tmp.dir, 'data', 'loupe.db'), { readonly: true });
    try {
      const n = (db.prepare('SELECT COUNT(*) AS n FROM inspection').get() as { n: number }).n;
      // Every part the station announced is in the log, and nothing was left half-done.
      expect(n).toBe(stopped.parts);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
  });
});
