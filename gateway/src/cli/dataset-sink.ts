import { parseArgs } from 'node:util';
import { errorMessage, isLoupeError } from '../errors.js';
import { createLogger } from '../log.js';
import { DatasetSink } from '../uplink/sink/dataset-sink.js';
import { loadSinkConfig } from '../uplink/sink/sink-config.js';

const USAGE = `usage: loupe dataset-sink [--config FILE] [--broker URL] [--out DIR] [--group NAME | --no-group]
                          [--model DIR] [--pack-only] [--print-config] [--log-level LEVEL]

Subscribes to corrections on the plant broker, stores each one once (dedupe by
correction id, across restarts) and packs them into <out>/dataset, the format
models/training/train.py reads. The password comes from $LOUPE_SINK__PASSWORD;
any key of the config file can be set as LOUPE_SINK__<KEY>. See docs/uplink.md.
`;

/** `loupe dataset-sink`: the receiving end of the corrections uplink, until SIGINT/SIGTERM. */
export async function datasetSinkCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      broker: { type: 'string' },
      out: { type: 'string' },
      group: { type: 'string' },
      'no-group': { type: 'boolean' },
      model: { type: 'string' },
      'pack-only': { type: 'boolean' },
      'print-config': { type: 'boolean' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const flags: Record<string, unknown> = {};
  if (values.broker !== undefined) flags.brokerUrl = values.broker;
  if (values.out !== undefined) flags.outDir = values.out;
  if (values.group !== undefined) flags.group = values.group;
  if (values['no-group']) flags.group = null;
  if (values.model !== undefined) flags.modelPath = values.model;
  const cfg = loadSinkConfig(values.config ?? null, flags);
  if (values['print-config']) {
    process.stdout.write(`${JSON.stringify({ ...cfg, password: cfg.password === null ? null : '[redacted]' }, null, 2)}\n`);
    return 0;
  }
  const level = values['log-level'];
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(level)) {
    process.stderr.write(`--log-level: got "${level}", expected one of fatal, error, warn, info, debug, trace\n`);
    return 2;
  }
  const log = createLogger({ level, pretty: 'auto' }).child({ component: 'dataset-sink' });

  let sink: DatasetSink;
  try {
    sink = new DatasetSink(cfg, { log });
    if (values['pack-only']) {
      // The log line says what was packed, and where.
      await sink.packOnly();
      return 0;
    }
    await sink.start();
  } catch (err) {
    log.fatal({ code: isLoupeError(err) ? err.code : undefined }, `cannot start: ${errorMessage(err)}`);
    log.flush();
    return 1;
  }

  // The sink's own timers do not hold the process (the gateway's HTTP server does that there):
  // without this a sink started while the broker is away would exit quietly.
  const keepAlive = setInterval(() => undefined, 3_600_000);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting without packing');
        clearInterval(keepAlive);
        resolve(130);
        return;
      }
      log.info({ signal }, 'signal received: disconnecting and packing what is new');
      sink
        .stop()
        .then(
          () => 0,
          (err: unknown) => {
            log.error({ err: errorMessage(err) }, 'unclean stop');
            return 1;
          },
        )
        .then((code) => {
          clearInterval(keepAlive);
          resolve(code);
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
