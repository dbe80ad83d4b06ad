import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../gateway/src/config/load.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'loupe-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function problems(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('LOUPE_ERR_CONFIG_INVALID');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('runs the demo from an empty file: every key has a default', () => {
    const cfg = loadConfig(file('empty.yaml', ''), {}, dir);
    expect(cfg.stations).toHaveLength(1);
    expect(cfg.stations[0]?.camera.type).toBe('synthetic');
    expect(cfg.stations[0]?.model.providers).toEqual(['cuda', 'cpu']);
    expect(cfg.store.dbFile).toBe(join(dir, 'data', 'loupe.db'));
  });

  it('loads the shipped default and example configs', () => {
    for (const f of ['config/loupe.yaml', 'config/examples/rtsp-camera.yaml', 'config/examples/folder-camera.yaml', 'config/examples/http-snapshot.yaml']) {
      expect(() => loadConfig(f, {}), f).not.toThrow();
    }
  });

  it('names the key, the problem and what was expected, for every problem at once', () => {
    const p = problems(() =>
      loadConfig(
        file('bad.yaml', ['http:', '  port: "abc"', '  hots: x', 'stations:', '  - id: Bad_Id', '    camera: { type: rtsp }', '    policy: { auditRate: 3 }'].join('\n')),
        {},
        dir,
      ),
    );
    const byPath = Object.fromEntries(p.map((x) => [x.path, x.message]));
    expect(byPath['http.port']).toMatch(/got "abc", expected number/);
    expect(byPath['http.hots']).toMatch(/unknown key, expected one of: host, port/);
    expect(byPath['stations.0.id']).toMatch(/got "Bad_Id"/);
    expect(byPath['stations.0.camera.type']).toMatch(/got "rtsp", expected one of "synthetic", "folder", "http-snapshot", "ffmpeg"/);
    expect(byPath['stations.0.policy.auditRate']).toMatch(/got 3, expected <= 1/);
  });

  it('rejects contradictions between keys', () => {
    const p = problems(() =>
      loadConfig(file('contra.yaml', 'stations:\n  - id: a\n    trigger: { type: file }\n  - id: a\n    policy: { passBelow: 0.9, failAtOrAbove: 0.5 }\n'), {}, dir),
    );
    expect(p.map((x) => x.path)).toEqual(expect.arrayContaining(['stations.0.trigger.type', 'stations.1.id', 'stations.1.policy.passBelow']));
  });

  it('reports YAML syntax errors with their line', () => {
    const p = problems(() => loadConfig(file('syntax.yaml', 'http:\n  port: 80\n   host: x\n'), {}, dir));
    expect(p[0]?.path).toMatch(/^\(line \d+\)$/);
    expect(p[0]?.message).toMatch(/expected valid YAML/);
  });

  it('takes deployment values and secrets from LOUPE__ environment variables', () => {
    const cfg = loadConfig(file('env.yaml', 'stations:\n  - id: s1\n    camera: { type: http-snapshot, url: "http://127.0.0.1:1/x.jpg" }\n'), {
      LOUPE__HTTP__PORT: '9090',
      LOUPE__STORE__MAX_DISK_MB: '100',
      LOUPE__STATIONS__0__CAMERA__PASSWORD: 's3cret',
      LOUPE__STATIONS__0__MODEL__PROVIDERS: '[cpu]',
    }, dir);
    expect(cfg.http.port).toBe(9090);
    expect(cfg.store.maxDiskMb).toBe(100);
    expect(cfg.stations[0]?.camera).toMatchObject({ type: 'http-snapshot', password: 's3cret' });
    expect(cfg.stations[0]?.model.providers).toEqual(['cpu']);
  });

  it('refuses an environment override that names no key', () => {
    const p = problems(() => loadConfig(null, { LOUPE__HTTP__PROT: '1' }, dir));
    expect(p[0]).toEqual({ path: '$LOUPE__HTTP__PROT', message: expect.stringMatching(/no key "PROT" under http/) });
  });

  it('check-config prints FILE: key.path: problem lines and exits non-zero', async () => {
    const bad = file('cli.yaml', 'store:\n  maxDiskMb: -5\n');
    const err = await run('npx', ['tsx', 'gateway/src/main.ts', 'check-config', bad]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain(`${bad}: store.maxDiskMb: got -5, expected >= 1`);
    const ok = await run('npx', ['tsx', 'gateway/src/main.ts', 'check-config', 'config/loupe.yaml']);
    expect(ok.stdout).toContain('config/loupe.yaml: ok (1 station)');
  });
});
