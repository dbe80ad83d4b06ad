import type { z } from 'zod';
import type { ConfigProblem } from './load.js';
import { keysAt, type Schema } from './schema-walk.js';

/** Turn one zod issue into `key.path: what is wrong, what was expected`. */
export function describeIssue(issue: z.core.$ZodIssue, schema: Schema): ConfigProblem[] {
  const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
  const at = (p: (string | number)[]) => (p.length === 0 ? '(top level)' : p.join('.'));
  const got = `got ${describeValue(issue.input)}`;
  const unit = (origin: string) => (origin === 'array' ? ' entries' : origin === 'string' ? ' characters' : '');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const valid = keysAt(schema, path).join(', ');
      return issue.keys.map((k) => ({ path: at([...path, k]), message: `unknown key, expected one of: ${valid}` }));
    }
    case 'invalid_type':
      return [{ path: at(path), message: `${issue.input === undefined ? 'missing' : got}, expected ${issue.expected}` }];
    case 'invalid_value':
      return [{ path: at(path), message: `${got}, expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` }];
    case 'invalid_union': {
      const { options, discriminator } = issue as { options?: unknown[]; discriminator?: string };
      const input = issue.input as Record<string, unknown> | undefined;
      const tag = discriminator && input !== null && typeof input === 'object' ? input[discriminator] : issue.input;
      if (options) return [{ path: at(path), message: `got ${describeValue(tag)}, expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}` }];
      return [{ path: at(path), message: `${got}, expected a value matching one of the documented forms` }];
    }
    case 'too_small':
      return [{ path: at(path), message: `${got}, expected ${issue.origin === 'array' || issue.origin === 'string' ? 'at least' : issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}${unit(issue.origin)}` }];
    case 'too_big':
      return [{ path: at(path), message: `${got}, expected ${issue.origin === 'array' || issue.origin === 'string' ? 'at most' : issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}${unit(issue.origin)}` }];
    case 'invalid_format':
      return [{ path: at(path), message: `${got}, expected ${issue.format === 'regex' ? issue.message : `a valid ${issue.format}`}` }];
    default:
      return [{ path: at(path), message: issue.message.includes('expected') ? issue.message : `${issue.message}, expected a valid value` }];
  }
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v !== null && typeof v === 'object') return 'a mapping';
  return String(v);
}
