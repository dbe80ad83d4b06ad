import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { LoupeConfigInput } from '../../../gateway/src/config/schema.js';
import type { IncomingPackage } from '../../../gateway/src/model-registry/registry.js';
import { DEMO_MODEL } from '../../helpers/gateway-harness.js';

type StationInput = NonNullable<LoupeConfigInput['stations']>[number];

export { DEMO_MODEL };

export const silentLogger = pino({ level: 'silent' });

/** Folders made by `variant`, removed by `removeVariants()` in afterAll. */
const made: string[] = [];

/**
 * A copy of the demo model package with model.json changed by `edit`
 * (version, thresholds, a wrong input size ...) and, optionally, model.onnx
 * replaced. The demo weights are real: the copy loads and infers like the
 * shipped model unless the edit breaks it on purpose.
 */
export function variant(edit: (manifest: Record<string, unknown>) => void, onnx?: (bytes: Buffer) => Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'loupe-model-'));
  made.push(dir);
  cpSync(DEMO_MODEL, dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  edit(manifest);
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (onnx) writeFileSync(join(dir, 'model.onnx'), onnx(readFileSync(join(dir, 'model.onnx'))));
  return dir;
}

/** The demo model as another version: same weights, its own id@version. */
export function demoVersion(version: string, thresholds?: { passBelow: number; failAtOrAbove: number }): string {
  return variant((m) => {
    m.version = version;
    if (thresholds) m.thresholds = thresholds;
  });
}

/** What an upload or MQTT message carries for a package folder; `sha256` is model.onnx's unless given. */
export function incoming(dir: string, over: Partial<IncomingPackage> = {}): IncomingPackage {
  const onnx = readFileSync(join(dir, 'model.onnx'));
  return {
    manifest: JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>,
    onnx,
    card: readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8'),
    sha256: sha256(onnx),
    source: 'api',
    actor: 'test',
    station: 'station-1',
    reason: 'test package',
    ...over,
  };
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function removeVariants(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A station on the synthetic line running the demo model on one CPU thread,
 * triggered through the API unless `over` says otherwise; audit sampling off
 * so runs are deterministic.
 */
export function station(over: Partial<StationInput> & Record<string, unknown> = {}): StationInput {
  return {
    id: 'station-1',
    camera: { type: 'synthetic', seed: 5, defectRate: 0.4, widthPx: 128, heightPx: 128 },
    trigger: { type: 'api' },
    model: { path: DEMO_MODEL, providers: ['cpu'], warmupRuns: 0, intraOpThreads: 1 },
    policy: { auditRate: 0 },
    ...over,
  } as StationInput;
}
