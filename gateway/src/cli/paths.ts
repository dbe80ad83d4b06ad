import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

/** The package root (where package.json, config/ and models/ live), from source or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the gateway code');
    dir = up;
  }
  return dir;
}

/** The embedded default config, used when no --config is given. */
export function defaultConfigFile(): string {
  return join(packageRoot(), 'config', 'loupe.yaml');
}
