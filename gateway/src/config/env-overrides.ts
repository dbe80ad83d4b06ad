import { parse as parseYaml } from 'yaml';
import type { ConfigProblem } from './load.js';
import { objectShapes, unwrap, type Schema } from './schema-walk.js';

/**
 * Deployment values and secrets come from the environment, never the repo:
 * `LOUPE__HTTP__PORT=9090`, `LOUPE__UPLINK__PASSWORD=...`,
 * `LOUPE__STATIONS__0__CAMERA__URL=...`. Segments are separated by `__` and
 * match schema keys ignoring case and underscores (`MAX_DISK_MB` = `maxDiskMb`).
 * Values are read as YAML scalars, so `true`, `9090` and `[cuda, cpu]` work.
 */
export const ENV_PREFIX = 'LOUPE__';

export function applyEnvOverrides(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  schema: Schema,
): { value: unknown; problems: ConfigProblem[] } {
  const value = structuredClone(raw) as Record<string, unknown>;
  const problems: ConfigProblem[] = [];
  const names = Object.keys(env).filter((k) => k.startsWith(ENV_PREFIX)).sort();
  for (const name of names) {
    const segments = name.slice(ENV_PREFIX.length).split('__');
    const path = resolveSegments(schema, segments);
    if (typeof path === 'string') {
      problems.push({ path: `$${name}`, message: `${path}, expected LOUPE__<SECTION>__<KEY> naming a config key` });
      continue;
    }
    setAt(value, path, parseScalar(env[name] ?? ''));
  }
  return { value, problems };
}

function parseScalar(text: string): unknown {
  try {
    return parseYaml(text) ?? '';
  } catch {
    return text;
  }
}

function setAt(root: Record<string, unknown>, path: (string | number)[], v: unknown): void {
  let node: Record<string | number, unknown> = root;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = v;
      return;
    }
    const next = node[key];
    if (next === null || typeof next !== 'object') node[key] = typeof path[i + 1] === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  });
}

/** Map env segments onto real key names by walking the schema; a string is an error. */
function resolveSegments(schema: Schema, segments: string[]): (string | number)[] | string {
  const out: (string | number)[] = [];
  let node: Schema | undefined = schema;
  for (const seg of segments) {
    node = unwrap(node);
    const def = node?._zod.def as { type: string; shape?: Record<string, Schema>; element?: Schema; options?: Schema[] } | undefined;
    if (def?.type === 'array') {
      if (!/^\d+$/.test(seg)) return `segment ${seg} should be a list index`;
      out.push(Number(seg));
      node = def.element;
      continue;
    }
    const shapes = objectShapes(node);
    if (shapes.length === 0) return `${out.join('.') || 'config'} has no sub-keys`;
    const want = seg.replace(/_/g, '').toLowerCase();
    const match = shapes.flatMap((s) => Object.entries(s)).find(([k]) => k.toLowerCase() === want);
    if (!match) return `no key "${seg}" under ${out.join('.') || 'the top level'}`;
    out.push(match[0]);
    node = match[1];
  }
  return out;
}
