import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, parseDocument } from 'yaml';
import type { z } from 'zod';
import { LoupeError } from '../errors.js';
import { applyEnvOverrides } from './env-overrides.js';
import { describeIssue } from './issues.js';
import { configSchema, type LoupeConfig } from './schema.js';

/** One problem in a config, in the words `loupe check-config` prints. */
export interface ConfigProblem {
  /** Dotted key path, e.g. `stations.0.model.path`, or `(file)` for the file as a whole. */
  path: string;
  /** What is wrong and what was expected. */
  message: string;
}

export class ConfigError extends LoupeError {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super('LOUPE_ERR_CONFIG_INVALID', problems.map((p) => `${source}: ${p.path}: ${p.message}`).join('\n'), {
      details: { source, problems },
    });
  }
}

/**
 * Read, override from the environment, validate and resolve a config file.
 * `file` null means the embedded defaults alone. Throws ConfigError listing
 * every problem at once, so an engineer fixes the file in one pass.
 */
export function loadConfig(file: string | null, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): LoupeConfig {
  const source = file ?? '(defaults)';
  const raw = file === null ? {} : readYaml(file);
  const overridden = applyEnvOverrides(raw, env, configSchema);
  if (overridden.problems.length > 0) throw new ConfigError(source, overridden.problems);
  return parseConfig(overridden.value, source, cwd);
}

/** Validate an already-parsed object (API uploads, tests). */
export function parseConfig(value: unknown, source: string, cwd = process.cwd()): LoupeConfig {
  const result = configSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ConfigError(source, result.error.issues.flatMap((i) => describeIssue(i as z.core.$ZodIssue, configSchema)));
  return resolvePaths(result.data, cwd);
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read it (${code ?? 'error'}), expected a readable YAML file` }]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: `(line ${e.linePos?.[0]?.line ?? '?'})`,
        message: `${e.message.split('\n')[0] ?? e.code}, expected valid YAML`,
      })),
    );
  }
  const value: unknown = parseYaml(text);
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(file, [{ path: '(file)', message: 'the document is not a mapping, expected keys such as gateway:, stations:' }]);
  }
  return value;
}

function resolvePaths(cfg: LoupeConfig, cwd: string): LoupeConfig {
  const dataDir = resolve(cwd, cfg.gateway.dataDir);
  const under = (p: string) => (isAbsolute(p) ? p : resolve(dataDir, p));
  const here = (p: string | null) => (p === null ? null : resolve(cwd, p));
  const { tls } = cfg.uplink;
  return {
    ...cfg,
    gateway: { ...cfg.gateway, dataDir },
    store: { ...cfg.store, dbFile: under(cfg.store.dbFile), imagesDir: under(cfg.store.imagesDir) },
    models: { ...cfg.models, registryDir: under(cfg.models.registryDir) },
    plc: {
      ...cfg.plc,
      client: {
        ...cfg.plc.client,
        pkiDir: under(cfg.plc.client.pkiDir),
        blocks: cfg.plc.client.blocks.map((b) => ({
          ...b,
          recipes: Object.fromEntries(Object.entries(b.recipes).map(([id, r]) => [id, r.modelPath === undefined ? r : { ...r, modelPath: resolve(cwd, r.modelPath) }])),
        })),
      },
      server: { ...cfg.plc.server, pkiDir: under(cfg.plc.server.pkiDir) },
      simulator: { ...cfg.plc.simulator, pkiDir: under(cfg.plc.simulator.pkiDir) },
    },
    hmi: cfg.hmi.distDir === undefined ? cfg.hmi : { ...cfg.hmi, distDir: resolve(cwd, cfg.hmi.distDir) },
    uplink: { ...cfg.uplink, tls: { ...tls, caFile: here(tls.caFile), certFile: here(tls.certFile), keyFile: here(tls.keyFile) } },
    stations: cfg.stations.map((s) => ({
      ...s,
      model: { ...s.model, path: resolve(cwd, s.model.path) },
      camera: s.camera.type === 'folder' ? { ...s.camera, path: resolve(cwd, s.camera.path) } : s.camera,
    })),
  };
}
