import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { applyEnvOverrides, ENV_PREFIX } from '../../config/env-overrides.js';
import { describeIssue } from '../../config/issues.js';
import { ConfigError } from '../../config/load.js';
import { datasetSinkSchema, type DatasetSinkConfig } from '../../config/sections/uplink.js';

/** Environment overrides of the sink's file: `LOUPE_SINK__PASSWORD`, `LOUPE_SINK__BROKER_URL`, ... */
export const SINK_ENV_PREFIX = 'LOUPE_SINK__';

/**
 * The sink's config: its YAML file (optional), then command-line values,
 * then the environment, validated once against `datasetSinkSchema`. Relative
 * paths resolve against the working directory.
 */
export function loadSinkConfig(file: string | null, flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DatasetSinkConfig {
  const source = file ?? '(defaults)';
  const raw = { ...(file === null ? {} : readYaml(file)), ...flags };
  const sinkEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith(SINK_ENV_PREFIX)).map(([k, v]) => [ENV_PREFIX + k.slice(SINK_ENV_PREFIX.length), v]));
  const overridden = applyEnvOverrides(raw, sinkEnv, datasetSinkSchema);
  if (overridden.problems.length > 0) {
    throw new ConfigError(source, overridden.problems.map((p) => ({ path: p.path.replace(`$${ENV_PREFIX}`, `$${SINK_ENV_PREFIX}`), message: p.message.replace('LOUPE__<SECTION>__<KEY>', `${SINK_ENV_PREFIX}<KEY>`) })));
  }
  const result = datasetSinkSchema.safeParse(overridden.value, { reportInput: true });
  if (!result.success) throw new ConfigError(source, result.error.issues.flatMap((i) => describeIssue(i as z.core.$ZodIssue, datasetSinkSchema)));
  const cfg = result.data;
  const at = (p: string | null) => (p === null ? null : resolve(cwd, p));
  return {
    ...cfg,
    outDir: resolve(cwd, cfg.outDir),
    modelPath: at(cfg.modelPath),
    tls: { ...cfg.tls, caFile: at(cfg.tls.caFile), certFile: at(cfg.tls.certFile), keyFile: at(cfg.tls.keyFile) },
  };
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'}), expected a readable YAML file` }]);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: `(line ${e.linePos?.[0]?.line ?? '?'})`, message: `${e.message.split('\n')[0] ?? e.code}, expected valid YAML` })));
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(file, [{ path: '(file)', message: 'the document is not a mapping, expected keys such as brokerUrl:, outDir:' }]);
  return value as Record<string, unknown>;
}
