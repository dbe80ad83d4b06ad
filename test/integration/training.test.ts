import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Detector } from '../../gateway/src/vision/detector.js';
import { silentLog, tempDir } from '../helpers/test-config.js';

const run = promisify(execFile);

describe('training scripts', () => {
  it('turn a synthetic dataset into a model package the gateway loads and runs', async () => {
    const tmp = tempDir('loupe-train-');
    try {
      const data = join(tmp.dir, 'dataset');
      const out = join(tmp.dir, 'model');
      await run(process.execPath, ['--import', 'tsx', 'scripts/make-dataset.ts', '--out', data, '--seed', '3', '--train', '120', '--val', '40', '--test', '40', '--defect-rate', '0.5', '--size', '128']);
      const { stderr } = await run('/usr/bin/python3', ['models/training/train.py', '--data', data, '--out', out, '--seed', '3', '--epochs', '1', '--command', 'training smoke test'], {
        maxBuffer: 16 * 1024 * 1024,
      });
      expect(stderr).toMatch(/test accuracy/);
      const d = await Detector.load({ path: out, providers: ['cpu'], intraOpThreads: 1, warmupRuns: 1 }, silentLog);
      try {
        expect(d.manifest.labels).toEqual(['good', 'scratch', 'dent', 'crack', 'contamination', 'missing_hole']);
        expect(d.manifest.provenance.command).toBe('training smoke test');
        expect(d.manifest.provenance.metrics?.testParts).toBe(40);
      } finally {
        await d.close();
      }
    } finally {
      tmp.cleanup();
    }
  }, 240_000);
});
