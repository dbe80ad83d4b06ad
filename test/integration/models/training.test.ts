import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyntheticLine } from '../../../gateway/src/camera/synthetic/synthetic-line.js';
import { verifyPackage } from '../../../gateway/src/model-registry/package-verifier.js';
import { splitOf } from '../../../gateway/src/uplink/sink/dataset-sink.js';
import { DatasetSplit } from '../../../gateway/src/vision/dataset-pack.js';
import { DEMO_MODEL, silentLogger } from './model-fixtures.js';

const run = promisify(execFile);
/** Debian's PyTorch (scripts/install-test-deps.sh installs it): a missing one fails the tests, it does not skip them. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

describe('training from operator corrections and from a folder of photos', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loupe-train-'));
    // An image folder as a user would bring it: good/ and one folder per defect, masks beside some photos.
    const line = new SyntheticLine({ seed: 21, widthPx: 160, heightPx: 160, defectRate: 0.5, defectKinds: ['scratch', 'dent'], format: 'jpeg' });
    await line.open();
    const counts: Record<string, number> = {};
    while ((counts.good ?? 0) < 16 || (counts.scratch ?? 0) < 10 || (counts.dent ?? 0) < 10) {
      const f = await line.grab();
      const label = f.truth?.label ?? 'good';
      const n = counts[label] ?? 0;
      if (n >= (label === 'good' ? 16 : 10)) continue;
      counts[label] = n + 1;
      mkdirSync(join(dir, 'photos', label), { recursive: true });
      writeFileSync(join(dir, 'photos', label, `p${n}.jpg`), f.data);
      if (label !== 'good' && n % 2 === 0 && f.truthMask) writeFileSync(join(dir, 'photos', label, `p${n}-mask.png`), f.truthMask);
    }
    writeFileSync(join(dir, 'photos', 'good', 'broken.jpg'), 'not an image');

    // A corrections pack as `loupe dataset-sink` writes it: labels in arrival order, corrections.jsonl with decision times.
    const spec = { width: 128, height: 128, heatMapWidth: 16, heatMapHeight: 16, labels: ['good', 'dent', 'scratch'], source: 'corrections' };
    const splits = { train: await DatasetSplit.create(join(dir, 'corr', 'train'), spec), val: await DatasetSplit.create(join(dir, 'corr', 'val'), spec), test: await DatasetSplit.create(join(dir, 'corr', 'test'), spec) };
    const dim = new SyntheticLine({ seed: 22, widthPx: 160, heightPx: 160, defectRate: 0.5, defectKinds: ['scratch', 'dent'], format: 'jpeg', brightness: 0.6 });
    await dim.open();
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      const f = await dim.grab();
      const id = `01CORR${String(i).padStart(4, '0')}`;
      const split = splitOf(id, 20, 20);
      await splits[split].append(f.data, f.truth?.label ?? 'good', { sourceRef: id });
      lines.push(JSON.stringify({ correctionId: id, split, label: f.truth?.label, decidedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() }));
    }
    for (const s of Object.values(splits)) await s.close();
    writeFileSync(join(dir, 'corr', 'corrections.jsonl'), `${lines.join('\n')}\n`);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('packs an image folder in the model\'s class order, with masks, splits and examples', async () => {
    const { stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/pack-image-folder.ts', '--in', join(dir, 'photos'), '--out', join(dir, 'photos-pack'), '--model', DEMO_MODEL, '--val', '20', '--test', '20'], { timeout: 60_000 });
    const metas = ['train', 'val', 'test'].map((s) => JSON.parse(readFileSync(join(dir, 'photos-pack', s, 'meta.json'), 'utf8')) as { count: number; width: number; labels: string[]; classCounts: Record<string, number> });
    expect(metas.reduce((n, m) => n + m.count, 0)).toBe(36);
    expect(metas.every((m) => m.width === 128 && m.labels.join() === 'good,scratch,dent,crack,contamination,missing_hole')).toBe(true);
    expect(metas[0]?.count).toBeGreaterThan(0);
    expect(stderr).toMatch(/skipped 1 unreadable files: good\/broken\.jpg/);
    const index = readFileSync(join(dir, 'photos-pack', 'train', 'index.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { label: string; hasMask: boolean });
    expect(index.some((r) => r.hasMask)).toBe(true);
    expect(existsSync(join(dir, 'photos-pack', 'examples', 'scratch'))).toBe(true);
  });

  it('fine-tunes the shipped model on corrections and photos and writes a package the gateway verifies', async () => {
    const out = join(dir, 'candidate');
    const { stdout, stderr } = await run(
      PYTHON,
      ['models/training/finetune.py', '--parent', DEMO_MODEL, '--corrections', join(dir, 'corr'), '--data', join(dir, 'photos-pack'), '--out', out, '--version', '1.0.1-test', '--epochs', '1', '--replay', '20', '--latest', '10', '--threads', '1'],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stderr).toMatch(/epoch 1\/1 {2}batch \d+\/\d+ {2}loss/);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { id: string; version: string; sha256: string; parent: string; counts: { correctionsTrain: number }; evaluation: { set: string; parent: unknown; candidate: unknown }[] };
    expect(summary).toMatchObject({ id: 'demo-part', version: '1.0.1-test' });
    expect(summary.parent).toMatch(/^demo-part@1\.0\.0 sha256:[0-9a-f]{64}$/);
    expect(summary.counts.correctionsTrain).toBeGreaterThan(0);
    expect(summary.evaluation.map((e) => e.set)).toContain('latest 10 corrections');

    const verified = await verifyPackage(out, { expectedSha256: summary.sha256, log: silentLogger });
    expect(verified.manifest).toMatchObject({ id: 'demo-part', version: '1.0.1-test', labels: ['good', 'scratch', 'dent', 'crack', 'contamination', 'missing_hole'] });
    expect(verified.manifest.provenance.parent).toBe(summary.parent);
    const card = readFileSync(join(out, 'MODEL_CARD.md'), 'utf8');
    expect(card).toContain(summary.parent);
    expect(card).toContain(summary.sha256);
    expect(card).toMatch(/\| latest 10 corrections \| 10 \|/);
  });

  it('trains a model from scratch on the packed photos as the README says', async () => {
    const out = join(dir, 'scratch-model');
    await run(PYTHON, ['models/training/train.py', '--data', join(dir, 'photos-pack'), '--out', out, '--epochs', '1', '--threads', '1'], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    const verified = await verifyPackage(out, { expectedSha256: null, log: silentLogger });
    expect(verified.manifest.labels).toEqual(['good', 'scratch', 'dent', 'crack', 'contamination', 'missing_hole']);
  });
});
