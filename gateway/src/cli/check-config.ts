import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import { defaultConfigFile } from './paths.js';

/**
 * `loupe check-config [FILE]`: validate without starting anything. Prints
 * every problem as `FILE: key.path: what is wrong, what was expected`.
 */
export async function checkConfigCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { print: { type: 'boolean' } } });
  const file = positionals[0] ?? defaultConfigFile();
  try {
    const cfg = loadConfig(file);
    process.stdout.write(`${file}: ok (${cfg.stations.length} station${cfg.stations.length === 1 ? '' : 's'})\n`);
    if (values.print) process.stdout.write(`${JSON.stringify(cfg, null, 2)}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) process.stderr.write(`${err.source}: ${p.path}: ${p.message}\n`);
    return 2;
  }
}
