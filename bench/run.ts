import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../gateway/src/cli/paths.js';
import { describeMachine } from './machine.js';
import { benchPipeline } from './pipeline.js';
import { formatPlcLatency, plcLatency } from './plc-latency.js';

/**
 * `npm run bench`: the machine, then each figure with its baseline measured
 * in the same run, so ratios hold on a noisy box. `--seconds N` per pipeline
 * phase; `--plc-rate 120,480` parts/min for the PLC handshake latency.
 */
const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '8' }, model: { type: 'string' }, 'plc-rate': { type: 'string', default: '120,480' }, 'plc-parts': { type: 'string', default: '100' } },
});
const seconds = Number(values.seconds);
const modelPath = values.model ?? join(packageRoot(), 'models', 'demo-part');

process.stdout.write(`Loupe benchmarks\n${describeMachine()}\nmodel    ${modelPath}\n\n`);

for (const durable of [true, false]) {
  const f = await benchPipeline({ modelPath, seconds, durable });
  process.stdout.write(`pipeline (CPU provider, ${durable ? 'durable store: synchronous=full + image fsync (default)' : 'store synchronous=normal, no image fsync'})\n`);
  process.stdout.write(`  bare ONNX Runtime   ${f.bareInferencesPerSecond.toFixed(1)} inferences/s\n`);
  process.stdout.write(`  full pipeline       ${f.pipelinePartsPerSecond.toFixed(1)} parts/s  (${f.parts} parts)\n`);
  process.stdout.write(`  ratio               ${f.ratio.toFixed(2)}\n`);
  process.stdout.write(`  decode alone        ${f.decodeFramesPerSecond.toFixed(1)} frames/s on all cores: the ratio cannot exceed ${(f.decodeFramesPerSecond / f.bareInferencesPerSecond).toFixed(2)} here\n`);
  process.stdout.write('  stage        p50 ms   p99 ms\n');
  for (const [k, v] of Object.entries(f.stages)) process.stdout.write(`  ${k.padEnd(12)} ${v.p50.toFixed(2).padStart(6)}   ${v.p99.toFixed(2).padStart(6)}\n`);
  process.stdout.write('\n');
}

for (const rate of (values['plc-rate'] ?? '').split(',').filter(Boolean).map(Number)) {
  const f = await plcLatency({ partsPerMin: rate, parts: Number(values['plc-parts']), modelPath });
  process.stdout.write(`${formatPlcLatency(f)}\n\n`);
}
// The OPC UA stack keeps a clock-adjustment timer alive; everything the benchmarks opened is closed.
process.exit(0);
