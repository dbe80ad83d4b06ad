import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { errorMessage, isLoupeError } from '../errors.js';
import { startGateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { defaultConfigFile } from './paths.js';

/** `loupe run [--config FILE]`: the gateway until SIGINT/SIGTERM, then a clean stop and exit 0. */
export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
  const file = values.config ?? process.env.LOUPE_CONFIG ?? defaultConfigFile();
  const cfg = loadConfig(file);
  const log = createLogger(cfg.log);
  log.info({ config: file, node: process.version }, 'starting Loupe');

  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(cfg, log);
  } catch (err) {
    log.fatal({ code: isLoupeError(err) ? err.code : undefined }, `cannot start: ${errorMessage(err)}`);
    log.flush();
    return 1;
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        resolve(130);
        return;
      }
      log.info({ signal }, 'signal received');
      gateway.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: errorMessage(err) }, 'unclean stop');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
