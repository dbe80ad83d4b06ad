#!/usr/bin/env node
import { ConfigError } from './config/load.js';
import { errorMessage } from './errors.js';

/**
 * Entry points, one line each: `loupe <command> [options]`. Loaded on demand
 * so `check-config` does not start ONNX Runtime or OPC UA.
 */
const commands: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  run: {
    summary: 'run the gateway (default): --config FILE, else $LOUPE_CONFIG, else config/loupe.yaml',
    run: async (argv) => (await import('./cli/run.js')).runCommand(argv),
  },
  users: {
    summary: 'manage HMI operators: users add|list|reset-pin|disable|enable ID [--role R] (PIN asked, never an argument)',
    run: async (argv) => (await import('./cli/users.js')).usersCommand(argv),
  },
  'check-config': {
    summary: 'validate a config file and print every problem: check-config FILE [--print]',
    run: async (argv) => (await import('./cli/check-config.js')).checkConfigCommand(argv),
  },
  'plc-sim': {
    summary: 'simulate a PLC running the Loupe handshake over OPC UA (see docs/plc.md)',
    run: async (argv) => (await import('./cli/plc-sim.js')).plcSimCommand(argv),
  },
  'dataset-sink': {
    summary: 'subscribe to corrections on the plant broker and write a training dataset',
    run: async (argv) => (await import('./cli/dataset-sink.js')).datasetSinkCommand(argv),
  },
};

function usage(): string {
  return `usage: loupe <command> [options]\n\n${Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`)
    .join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name = 'run', ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`loupe: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; a handle some library left open must not keep a stopped gateway alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    // Config errors are the user's to fix: print them plainly, not as a stack.
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`loupe: ${errorMessage(err)}\n${err instanceof Error ? (err.stack ?? '') : ''}\n`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
  },
);
