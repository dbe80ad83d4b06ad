import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { errorMessage, isLoupeError } from '../errors.js';
import { startGateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { defaultConfigFile } from './paths.js';

/**
 * `loupe run [--config FILE]`: the gateway until SIGINT/SIGTERM, then a clean stop and exit 0. An internal
 * error nothing handled is logged as fatal and ends the process with exit code 70 after a best-effort stop.
 */
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
    // A bug that escapes every handler leaves the process in a state nobody reasoned about: say so in the log,
    // stop as cleanly as still possible (every committed inspection and decision is already on disk) and exit
    // non-zero, so the service manager starts a fresh process.
    let failing = false;
    const onBug = (err: unknown) => {
      log.fatal({ code: 'LOUPE_ERR_INTERNAL', err }, `internal error, stopping: ${errorMessage(err)}`);
      if (failing) return;
      failing = true;
      const hardStop = setTimeout(() => resolve(70), cfg.gateway.shutdownGraceMs + 5000);
      hardStop.unref();
      gateway.stop().then(
        () => resolve(70),
        () => resolve(70),
      );
    };
    process.on('unhandledRejection', onBug);
    process.on('uncaughtException', onBug);
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
