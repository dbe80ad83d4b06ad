import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../gateway/src/config/load.js';
import { wirePlc } from '../../../gateway/src/plc/plc-link.js';
import type { PlcRuntime } from '../../../gateway/src/plc/plc-runtime.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway-harness.js';
import { startLoupePlc, waitUntil } from '../../helpers/plc-loupe.js';
import { DEMO_MODEL, startPlcLine, type PlcTestLine } from '../../helpers/plc-line.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';

describe('PLC link in the gateway and the plc-sim command', () => {
  let gw: TestGateway | null = null;
  let line: PlcTestLine | null = null;
  let loupe: PlcRuntime | null = null;

  afterAll(async () => {
    await gw?.cleanup();
    await loupe?.stop();
    await line?.close();
    await expectNoOpenSockets();
  });

  it('runs the handshake with the simulated PLC as the embedded default config does', async () => {
    // The shipped default wires a plc-triggered station to the simulator.
    const demo = loadConfig('config/loupe.yaml', {});
    expect(wirePlc(demo.plc, demo.stations)).toEqual([expect.objectContaining({ station: 'station-1' })]);
    expect(demo.plc).toMatchObject({ simulator: { enabled: true }, client: { enabled: true }, server: { enabled: true } });

    gw = await startTestGateway({
      config: {
        stations: [
          {
            id: 'station-1',
            camera: { type: 'synthetic', seed: 3, widthPx: 128, heightPx: 128 },
            trigger: { type: 'plc' },
            model: { path: DEMO_MODEL, providers: ['cpu'], warmupRuns: 0, intraOpThreads: 1 },
            policy: { auditRate: 0 },
          },
        ],
        plc: {
          simulator: { enabled: true, port: 0, partsPerMin: 600, heartbeatMs: 100 },
          client: { enabled: true, securityMode: 'None', heartbeatMs: 100, plcHeartbeatTimeoutMs: 1000 },
          server: { enabled: true, port: 0, securityModes: ['None'], allowAnonymous: true },
        },
      },
    });
    const g = gw;
    const links = async () => ((await (await fetch(`${g.url}/readyz`)).json()) as { links: { name: string; state: string; detail: string | null }[] }).links;
    await waitUntil('parts from the simulated PLC', () => (g.gateway.stations.get('station-1')?.status().parts ?? 0) >= 5, 20_000);
    const l = await links();
    expect(l.find((x) => x.name === 'plc')).toMatchObject({ state: 'ok', detail: expect.stringMatching(/^simulated PLC at opc\.tcp:\/\/127\.0\.0\.1:\d+: ready$/) });
    expect(l.find((x) => x.name === 'opcua-server')).toMatchObject({ state: 'ok' });
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toMatch(/loupe_plc_link_up 1/);
    expect(metrics).toMatch(/loupe_plc_results_total\{station="station-1",verdict="[a-z-]+"\} [1-9]/);
    await g.cleanup();
    gw = null;
  });

  it('loupe plc-sim runs the PLC side of the handshake and prints each part and a summary', async () => {
    line = await startPlcLine({ policy: { passBelow: 0.3, failAtOrAbove: 0.5, auditRate: 0 } });
    const l = line;
    const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts', 'plc-sim', '--port', '0', '--rate', '300', '--parts', '8', '--pki', join(l.dir, 'pki-cli')], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const endpoint = await waitUntil('the simulator endpoint', () => /PLC simulator at (opc\.tcp:\/\/[^ ]+) /.exec(stdout)?.[1], 30_000, () => stdout);
      loupe = await startLoupePlc(l, { endpoint });
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    const lines = stdout.trim().split('\n');
    const parts = lines.filter((x) => /^P-\d{6} /.test(x));
    expect(parts.length).toBeGreaterThanOrEqual(1);
    expect(parts[0]).toMatch(/^P-\d{6} {2}(pass|fail|hold->pass|hold->fail|-) +(accepted|diverted)/);
    // The simulated line starts only once Loupe is ready, even though Loupe connected long after the simulator started.
    expect(stdout).toMatch(/parts arrived 8 in [\d.]+ s; sent to Loupe 8; not sent: none/);
    expect(stdout).toMatch(/trigger to result: p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms/);
    expect(stdout).toMatch(/checks: mismatched 0, duplicates 0/);
  });
});
