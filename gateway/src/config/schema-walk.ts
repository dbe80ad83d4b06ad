import type { z } from 'zod';

/** Reading the config schema's shape: env overrides and error hints need key names. */
export type Schema = z.core.$ZodType;

export function unwrap(node: Schema | undefined): Schema | undefined {
  let n = node;
  for (;;) {
    const def = n?._zod.def as { type: string; innerType?: Schema; in?: Schema } | undefined;
    if (!def) return n;
    if (def.innerType) n = def.innerType;
    else if (def.type === 'pipe' && def.in) n = def.in;
    else return n;
  }
}

export function objectShapes(node: Schema | undefined): Record<string, Schema>[] {
  const def = node?._zod.def as { type: string; shape?: Record<string, Schema>; options?: Schema[] } | undefined;
  if (!def) return [];
  if (def.type === 'object' && def.shape) return [def.shape];
  if (def.type === 'union' && def.options) return def.options.flatMap((o) => objectShapes(unwrap(o)));
  return [];
}

/** Key names valid at `path` (list indices skipped), for "expected one of" hints. */
export function keysAt(schema: Schema, path: (string | number)[]): string[] {
  let node: Schema | undefined = schema;
  for (const seg of path) {
    node = unwrap(node);
    const def = node?._zod.def as { type: string; element?: Schema } | undefined;
    if (def?.type === 'array') {
      node = def.element;
      continue;
    }
    node = objectShapes(node)
      .map((s) => s[String(seg)])
      .find((n) => n !== undefined);
  }
  return [...new Set(objectShapes(unwrap(node)).flatMap((s) => Object.keys(s)))];
}
