import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../config/load.js';
import type { SecurityModeName } from '../config/sections/plc.js';
import { errorMessage } from '../errors.js';
import { routeStackLogs } from '../plc/stack-log.js';
import type { SimPart, SimSummary } from '../plc/simulator.js';

const USAGE = `usage: loupe plc-sim [options]

A PLC running the Loupe handshake (docs/plc.md) as an OPC UA server: it sends
parts at a set rate, acknowledges results, checks part ids, diverts what it
must, and prints each part's trigger-to-result latency and a summary.
Defaults come from plc.simulator in the config (schema defaults without --config).

  --config FILE        take plc.simulator from this config file
  --host ADDR          listen address (loopback only)             [127.0.0.1]
  --port N             TCP port, 0 for a free one                  [4840]
  --rate N             parts per minute                            [120]
  --parts N            stop after N parts and print the summary    [no limit]
  --duration-s N       stop after N seconds                        [no limit]
  --cycle-ms N         PLC scan cycle                              [10]
  --security LIST      modes offered: None,Sign,SignAndEncrypt     [None]
  --pki DIR            PKI folder (trusted/ rejected/ own/)        [data/pki/plc-sim]
  --accept-unknown     trust any client certificate (bench use only)
  --user NAME          require this user; password from LOUPE__PLC__SIMULATOR__PASSWORD
  --quiet              summary only, no line per part
  --json               one JSON object per part and for the summary
  --verbose            the simulator's own log on stderr

Exit status: 0, or 1 when a part was mismatched, duplicated or out of sequence.
`;

/** `loupe plc-sim`: a simulated PLC for commissioning, demos and benchmarks. */
export async function plcSimCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string' },
      rate: { type: 'string' },
      parts: { type: 'string' },
      'duration-s': { type: 'string' },
      'cycle-ms': { type: 'string' },
      security: { type: 'string' },
      pki: { type: 'string' },
      'accept-unknown': { type: 'boolean' },
      user: { type: 'string' },
      quiet: { type: 'boolean' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const cfg = loadConfig(values.config ?? null);
  const sim = cfg.plc.simulator;
  const num = (name: string, v: string | undefined, fallback: number, min: number, max: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name}: got "${v}", expected a number from ${min} to ${max}`);
    return n;
  };
  const modes = (values.security?.split(',').map((s) => s.trim()) ?? sim.securityModes) as SecurityModeName[];
  for (const m of modes) if (!['None', 'Sign', 'SignAndEncrypt'].includes(m)) throw new Error(`--security: got "${m}", expected None, Sign or SignAndEncrypt`);
  const host = values.host ?? sim.host;
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) throw new Error(`--host: got "${host}", expected a loopback address (the simulator is for this machine only)`);
  const maxParts = num('parts', values.parts, 0, 1, 10_000_000);
  const durationS = num('duration-s', values['duration-s'], 0, 1, 30 * 86_400);

  const log = pino({ level: values.verbose ? 'info' : 'warn', base: { service: 'loupe-plc-sim' } }, pino.destination(2));
  await routeStackLogs(log);
  const { PlcSimulator } = await import('../plc/simulator.js');
  const simulator = new PlcSimulator({
    ...sim,
    host,
    port: num('port', values.port, sim.port, 0, 65_535),
    partsPerMin: num('rate', values.rate, sim.partsPerMin, 1, 60_000),
    cycleMs: num('cycle-ms', values['cycle-ms'], sim.cycleMs, 1, 1000),
    securityModes: modes,
    pkiDir: values.pki ? resolve(values.pki) : sim.pkiDir,
    acceptUnknownCertificates: values['accept-unknown'] ?? false,
    username: values.user ?? sim.username,
    maxParts,
    log,
  });

  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (!values.quiet) {
    simulator.on('part', (p) => out(values.json ? JSON.stringify(partRecord(p)) : partLine(p)));
    simulator.on('anomaly', (kind, detail) => out(values.json ? JSON.stringify({ anomaly: kind, detail }) : `!! ${kind}: ${detail}`));
  }
  try {
    await simulator.start();
  } catch (err) {
    process.stderr.write(`loupe plc-sim: ${errorMessage(err)}\n`);
    return 1;
  }
  if (!values.json) out(`PLC simulator at ${simulator.endpointUrl} (${modes.join(', ')}), interface block ns=1;s=LoupeIF.<Tag>; Ctrl-C for the summary`);

  await new Promise<void>((done) => {
    const finish = () => {
      clearInterval(poll);
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      done();
    };
    const started = Date.now();
    const poll = setInterval(() => {
      const s = simulator.summary();
      const allIn = maxParts > 0 && s.partsArrived >= maxParts && s.waiting === 0 && s.held === 0;
      if (allIn || (durationS > 0 && Date.now() - started >= durationS * 1000)) finish();
    }, 100);
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
  });
  const summary = await simulator.stop();
  out(values.json ? JSON.stringify({ summary }) : summaryText(summary));
  return summary.mismatched + summary.duplicates + summary.sequenceErrors + summary.partialErrors > 0 ? 1 : 0;
}

function partRecord(p: SimPart) {
  return {
    partId: p.partId,
    verdict: p.verdict,
    final: p.final,
    outcome: p.outcome,
    reason: p.divertReason,
    errorCode: p.errorCode,
    latencyMs: p.latencyMs === null ? null : Math.round(p.latencyMs * 10) / 10,
    finalLatencyMs: p.finalLatencyMs === null ? null : Math.round(p.finalLatencyMs),
  };
}

function partLine(p: SimPart): string {
  const verdict = p.verdict === null ? '-' : p.final ? `${p.verdict}->${p.final}` : p.verdict;
  const latency = p.latencyMs === null ? '' : `${p.latencyMs.toFixed(1).padStart(7)} ms`;
  const final = p.finalLatencyMs === null ? '' : `  (final after ${Math.round(p.finalLatencyMs)} ms)`;
  const why = p.outcome === 'diverted' && p.divertReason ? `  [${p.divertReason}]` : '';
  return `${p.partId}  ${verdict.padEnd(12)} ${p.outcome.padEnd(9)}${latency}${final}${why}`;
}

function summaryText(s: SimSummary): string {
  const kv = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  return [
    '',
    `parts arrived ${s.partsArrived} in ${s.elapsedS} s; sent to Loupe ${s.triggered}; not sent: ${kv(s.notTriggered)}`,
    `results ${s.results}: ${kv(s.verdicts)}; finals: pass ${s.finals.pass}, fail ${s.finals.fail}`,
    `accepted ${s.accepted}; diverted: ${kv(s.diverted)}; still waiting ${s.waiting}, held ${s.held}`,
    `trigger to result: p50 ${s.latency.p50Ms} ms, p95 ${s.latency.p95Ms} ms, p99 ${s.latency.p99Ms} ms, max ${s.latency.maxMs} ms (${s.latency.count} results)`,
    `checks: mismatched ${s.mismatched}, duplicates ${s.duplicates}, late ${s.late}, skipped ${s.missingResults}, sequence errors ${s.sequenceErrors}, IsPartial errors ${s.partialErrors}, LoupeHeartbeat lost ${s.loupeHeartbeatLost}`,
  ].join('\n');
}
