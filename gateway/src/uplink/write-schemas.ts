/**
 * Regenerates the JSON Schema files from wire-payloads.ts:
 *
 *   npx tsx gateway/src/uplink/write-schemas.ts
 *
 * Commit the result; a test fails while the files and the code disagree.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaText, wireSchemas } from './wire-payloads.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'schemas');
for (const [file, schema] of Object.entries(wireSchemas)) {
  writeFileSync(join(dir, file), jsonSchemaText(schema));
  process.stdout.write(`wrote ${join('gateway/src/uplink/schemas', file)}\n`);
}
