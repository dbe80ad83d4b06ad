import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SyntheticLine } from '../../gateway/src/camera/synthetic/synthetic-line.js';
import { Detector } from '../../gateway/src/vision/detector.js';
import { silentLog } from '../helpers/test-config.js';

const card = JSON.parse(readFileSync('models/demo-part/model.json', 'utf8')) as { provenance: { metrics: Record<string, number> } };

describe('the bundled demo model', () => {
  it('scores on held-out synthetic parts through the gateway (sharp + ONNX Runtime) what its card states', async () => {
    // The card's test split: seed 1, part indices from 2,000,000, 256x256 JPEG q90, half of them defective.
    const line = new SyntheticLine({ seed: 1, widthPx: 256, heightPx: 256, defectRate: 0.5, format: 'jpeg', jpegQuality: 90, startIndex: 2_000_000 });
    await line.open();
    const d = await Detector.load({ path: 'models/demo-part', providers: ['cpu'], intraOpThreads: 0, warmupRuns: 1 }, silentLog);
    let correct = 0;
    let defective = 0;
    let caught = 0;
    let good = 0;
    let rejected = 0;
    const n = 400;
    try {
      for (let i = 0; i < n; i++) {
        const frame = await line.grab();
        const { result } = await d.detect(frame.data);
        const top = result.findings[0];
        const predicted = top && top.score > 1 - result.defectScore ? top.label : 'good';
        const truth = frame.truth?.label ?? 'missing';
        if (predicted === truth) correct++;
        if (truth === 'good') {
          good++;
          if (predicted !== 'good') rejected++;
        } else {
          defective++;
          if (predicted !== 'good') caught++;
        }
      }
    } finally {
      await d.close();
      await line.close();
    }
    const m = card.provenance.metrics;
    // 400 parts: a binomial standard error of about 1 % at these rates; allow three.
    expect(correct / n).toBeGreaterThanOrEqual((m.accuracy ?? 1) - 0.03);
    expect(caught / defective).toBeGreaterThanOrEqual((m.defectRecall ?? 1) - 0.03);
    expect(rejected / good).toBeLessThanOrEqual((m.falseRejectRate ?? 0) + 0.03);
  });
});
