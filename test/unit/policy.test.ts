import { describe, expect, it } from 'vitest';
import { decide, resolveThresholds, type Thresholds } from '../../gateway/src/inspect/policy.js';

const t: Thresholds = { passBelow: 0.2, failAtOrAbove: 0.8, auditRate: 0.1, classFailAtOrAbove: { crack: 0.5 } };
const result = (defectScore: number, label = 'scratch', score = defectScore) => ({ defectScore, findings: [{ label, score }] });

describe('decision policy', () => {
  it('passes below the band, fails at or above it, reviews inside it', () => {
    expect(decide(result(0.05), t, 0.99)).toMatchObject({ verdict: 'pass', defectClass: null, audit: false });
    expect(decide(result(0.8), t, 0.99)).toMatchObject({ verdict: 'fail', defectClass: 'scratch', audit: false });
    expect(decide(result(0.2), t, 0.99)).toMatchObject({ verdict: 'review', defectClass: 'scratch' });
    expect(decide(result(0.79), t, 0.99).verdict).toBe('review');
  });

  it('explains the verdict with the score and the threshold', () => {
    expect(decide(result(0.93), t, 0.99).reason).toBe('defect score 0.93 >= 0.80 (most likely scratch)');
    expect(decide(result(0.5), t, 0.99).reason).toMatch(/uncertain band \[0\.20, 0\.80\)/);
  });

  it('applies a per-class limit before the general one', () => {
    expect(decide(result(0.6, 'crack'), t, 0.99)).toMatchObject({ verdict: 'fail', defectClass: 'crack' });
    expect(decide(result(0.6, 'dent'), t, 0.99).verdict).toBe('review');
  });

  it('samples confident verdicts for audit at the configured rate, never uncertain ones', () => {
    expect(decide(result(0.05), t, 0.05)).toMatchObject({ verdict: 'pass', audit: true });
    expect(decide(result(0.95), t, 0.05)).toMatchObject({ verdict: 'fail', audit: true });
    expect(decide(result(0.5), t, 0.05).audit).toBe(false);
    let audited = 0;
    for (let i = 0; i < 1000; i++) if (decide(result(0.01), t, i / 1000).audit) audited++;
    expect(audited).toBe(100);
  });

  it('treats a part with no findings as its defect score says', () => {
    expect(decide({ defectScore: 0, findings: [] }, t, 0.99)).toMatchObject({ verdict: 'pass', defectClass: null });
  });

  it('takes thresholds from config first, then the model, then defaults', () => {
    expect(resolveThresholds({ auditRate: 0, classFailAtOrAbove: {} })).toMatchObject({ passBelow: 0.2, failAtOrAbove: 0.8 });
    expect(resolveThresholds({ auditRate: 0, classFailAtOrAbove: {} }, { passBelow: 0.1, failAtOrAbove: 0.9 })).toMatchObject({ passBelow: 0.1, failAtOrAbove: 0.9 });
    expect(resolveThresholds({ passBelow: 0.3, auditRate: 0, classFailAtOrAbove: {} }, { passBelow: 0.1, failAtOrAbove: 0.9 })).toMatchObject({ passBelow: 0.3, failAtOrAbove: 0.9 });
  });
});
