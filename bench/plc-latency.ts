import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { packageRoot } from '../gateway/src/cli/paths.js';
import { parseConfig } from '../gateway/src/config/load.js';
import { resolveThresholds } from '../gateway/src/inspect/policy.js';
import { Station } from '../gateway/src/inspect/station.js';
import { Metrics } from '../gateway/src/metrics.js';
import { summarize, type LatencySummary } from '../gateway/src/plc/latency-stats.js';
import { wirePlc } from '../gateway/src/plc/plc-link.js';
import { routeStackLogs } from '../gateway/src/plc/stack-log.js';
import { ReviewQueue } from '../gateway/src/review/review-queue.js';
import { openStore } from '../gateway/src/store/store.js';
import { Detector } from '../gateway/src/vision/detector.js';
import { recordFrames, RecordedFrames } from './recorded-frames.js';
import { describeMachine } from './machine.js';

/**
 * Trigger-to-result latency through the PLC handshake: the simulated PLC
 * increments TriggerSeq and waits for ResultSeq, over real OPC UA on
 * loopback with the client's default publishing and sampling intervals.
 * The baseline is the same station triggered directly at the same rate in
 * the same run (no OPC UA), so the handshake's share survives a noisy box.
 */

export interface PlcLatencyOptions {
  /** Parts the simulated line sends per minute. */
  partsPerMin: number;
  /** Parts per phase. Default 100. */
  parts?: number;
  /** Model package. Default the bundled demo model. */
  modelPath?: string;
}

export interface PlcLatencyFigures {
  partsPerMin: number;
  /** Trigger (PLC increments TriggerSeq) to result (PLC sees ResultSeq), p50. */
  p50Ms: number;
  /** Same, p99. */
  p99Ms: number;
  plc: LatencySummary;
  /** Loupe's share: trigger latched to ResultSeq written (the rest is the PLC's sampling, publishing and scan). */
  loupe: LatencySummary;
  /** The station alone at the same rate: trigger to verdict committed. */
  pipeline: LatencySummary;
  /** plc.p50 / pipeline.p50. */
  ratioP50: number;
  /** Parts the PLC could not send because the previous trigger was not yet acknowledged (or Loupe not ready). */
  notTriggered: number;
  mismatched: number;
}

export async function plcLatency(opts: PlcLatencyOptions): Promise<PlcLatencyFigures> {
  const parts = opts.parts ?? 100;
  const dir = mkdtempSync(join(tmpdir(), 'loupe-bench-plc-'));
  const log = pino({ level: 'silent' });
  await routeStackLogs(log);
  const { startPlcRuntime } = await import('../gateway/src/plc/plc-runtime.js');
  const { PlcSimulator } = await import('../gateway/src/plc/simulator.js');
  const cfg = parseConfig(
    {
      gateway: { id: 'loupe-bench', dataDir: dir },
      stations: [{ id: 'station-1', trigger: { type: 'plc' }, model: { path: opts.modelPath ?? join(packageRoot(), 'models', 'demo-part'), providers: ['cpu'], warmupRuns: 10 }, policy: { auditRate: 0 } }],
      plc: { client: { enabled: true, securityMode: 'None', endpoint: 'opc.tcp://127.0.0.1:4840' } },
    },
    '(bench)',
  );
  const stationCfg = cfg.stations[0];
  if (!stationCfg) throw new Error('no station');
  const store = openStore(cfg.store, log);
  const metrics = new Metrics();
  const detector = await Detector.load(stationCfg.model, log);
  const frames = await recordFrames(50, 5);
  const station = new Station(stationCfg, { source: new RecordedFrames(frames), detector, thresholds: resolveThresholds(stationCfg.policy, detector.manifest.thresholds), store, metrics, log });
  const review = new ReviewQueue({ store, stations: new Map([[stationCfg.id, { review: stationCfg.review, defectLabels: () => [] }]]), buildCorrection: (_i, d) => ({ messageId: d.id, payload: {} }), metrics, log });
  station.on('inspected', (i) => review.add(i));
  review.start();
  await station.start();
  const periodMs = 60_000 / opts.partsPerMin;
  try {
    // Baseline: the station alone, triggered on the same clock.
    const direct: number[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < parts; i++) {
      const t0 = performance.now();
      pending.push(station.trigger({ via: 'api', partId: `B-${i}` }).then(() => void direct.push(performance.now() - t0)));
      await sleep(periodMs);
    }
    await Promise.all(pending);

    const sim = new PlcSimulator({ ...cfg.plc.simulator, port: 0, partsPerMin: opts.partsPerMin, maxParts: parts, runLine: false, pkiDir: join(dir, 'pki-sim'), log });
    await sim.start();
    const client = { ...cfg.plc.client, endpoint: sim.endpointUrl };
    const plcCfg = { ...cfg.plc, client };
    const runtime = await startPlcRuntime(
      { cfg: plcCfg, stationConfigs: cfg.stations, stations: new Map([[station.id, station]]), review, store, metrics, log, gatewayId: 'loupe-bench', shutdownGraceMs: 2000 },
      wirePlc(plcCfg, cfg.stations),
    );
    const inLoupe: number[] = [];
    runtime.handshakes.get(station.id)?.on('result', (r) => inLoupe.push(performance.now() - r.latchedAt));
    try {
      await until(() => sim.read('Ready') === true && sim.loupeAlive, 20_000, 'Loupe to raise Ready');
      sim.setLine(true);
      await until(() => sim.summary().partsArrived >= parts && sim.summary().waiting === 0, parts * periodMs + 20_000, 'the last part');
    } finally {
      await runtime.stop();
    }
    const s = await sim.stop();
    const pipeline = summarize(direct);
    return {
      partsPerMin: opts.partsPerMin,
      p50Ms: s.latency.p50Ms,
      p99Ms: s.latency.p99Ms,
      plc: s.latency,
      loupe: summarize(inLoupe),
      pipeline,
      ratioP50: pipeline.p50Ms > 0 ? Math.round((s.latency.p50Ms / pipeline.p50Ms) * 100) / 100 : 0,
      notTriggered: Object.values(s.notTriggered).reduce((a, b) => a + b, 0),
      mismatched: s.mismatched + s.duplicates + s.sequenceErrors,
    };
  } finally {
    await station.stop(2000);
    review.stop();
    await detector.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function format(f: PlcLatencyFigures): string {
  const row = (name: string, l: LatencySummary) => `  ${name.padEnd(22)} ${String(l.p50Ms).padStart(7)} ${String(l.p95Ms).padStart(7)} ${String(l.p99Ms).padStart(7)} ${String(l.maxMs).padStart(7)}   (${l.count} parts)`;
  return [
    `PLC handshake latency at ${f.partsPerMin} parts/min (OPC UA on loopback; the simulator samples and publishes every 50 ms at best, like a PLC at common settings)`,
    '                             p50 ms  p95 ms  p99 ms  max ms',
    row('station alone', f.pipeline),
    row('latched to ResultSeq', f.loupe),
    row('PLC trigger to result', f.plc),
    `  ratio p50              ${f.ratioP50.toFixed(2)}   parts the PLC could not send: ${f.notTriggered}   mismatched/duplicated/out of sequence: ${f.mismatched}`,
  ].join('\n');
}

export { format as formatPlcLatency };

// `npx tsx bench/plc-latency.ts [--rate N,N] [--parts N]`
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '120,480' }, parts: { type: 'string', default: '100' } } });
  process.stdout.write(`Loupe PLC latency\n${describeMachine()}\n\n`);
  for (const rate of (values.rate ?? '120').split(',').map(Number)) {
    const f = await plcLatency({ partsPerMin: rate, parts: Number(values.parts) });
    process.stdout.write(`${format(f)}\n\n`);
  }
  // The OPC UA stack keeps a clock-adjustment timer; everything Loupe opened is closed by now.
  process.exit(0);
}
