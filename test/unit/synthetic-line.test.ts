import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFECT_KINDS, GOOD_LABEL, renderPart } from '../../gateway/src/camera/synthetic/render-part.js';
import { SyntheticLine } from '../../gateway/src/camera/synthetic/synthetic-line.js';

const SIZE = 128;

describe('renderPart', () => {
  it('renders the same part for the same seed and index, whatever was rendered before', () => {
    const first = renderPart(42, { seed: 9, widthPx: SIZE, heightPx: SIZE, defectRate: 0.5 });
    renderPart(43, { seed: 9, widthPx: SIZE, heightPx: SIZE, defectRate: 0.5 });
    const again = renderPart(42, { seed: 9, widthPx: SIZE, heightPx: SIZE, defectRate: 0.5 });
    expect(Buffer.from(again.rgb).equals(Buffer.from(first.rgb))).toBe(true);
    expect(Buffer.from(again.mask).equals(Buffer.from(first.mask))).toBe(true);
    expect(again.truth).toEqual(first.truth);
  });

  it('renders a different part for another index or another seed', () => {
    const a = renderPart(1, { seed: 9, widthPx: SIZE, heightPx: SIZE });
    const b = renderPart(2, { seed: 9, widthPx: SIZE, heightPx: SIZE });
    const c = renderPart(1, { seed: 10, widthPx: SIZE, heightPx: SIZE });
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(false);
    expect(Buffer.from(a.rgb).equals(Buffer.from(c.rgb))).toBe(false);
  });

  it('makes defective parts at the requested rate and draws every defect kind', () => {
    const n = 400;
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const { label } = renderPart(i, { seed: 3, widthPx: SIZE, heightPx: SIZE, defectRate: 0.4 }).truth;
      seen.set(label, (seen.get(label) ?? 0) + 1);
    }
    const defective = n - (seen.get(GOOD_LABEL) ?? 0);
    // 400 Bernoulli(0.4) draws: 5 standard deviations is about +-0.12.
    expect(defective / n).toBeGreaterThan(0.28);
    expect(defective / n).toBeLessThan(0.52);
    for (const kind of DEFECT_KINDS) expect(seen.get(kind) ?? 0).toBeGreaterThan(0);
  });

  it('masks defect pixels only on defective parts, inside the truth box', () => {
    for (let i = 0; i < 120; i++) {
      const part = renderPart(i, { seed: 5, widthPx: SIZE, heightPx: SIZE, defectRate: 0.6 });
      const masked: number[] = [];
      part.mask.forEach((v, p) => {
        if (v !== 0) masked.push(p);
      });
      if (part.truth.label === GOOD_LABEL) {
        expect(part.truth.defects).toEqual([]);
        expect(masked).toEqual([]);
        continue;
      }
      expect(masked.length).toBeGreaterThan(0);
      const [defect] = part.truth.defects;
      expect(defect?.kind).toBe(part.truth.label);
      const box = defect!.box;
      for (const p of masked) {
        const x = ((p % SIZE) + 0.5) / SIZE;
        const y = (Math.floor(p / SIZE) + 0.5) / SIZE;
        expect(x).toBeGreaterThanOrEqual(box.x);
        expect(x).toBeLessThanOrEqual(box.x + box.w);
        expect(y).toBeGreaterThanOrEqual(box.y);
        expect(y).toBeLessThanOrEqual(box.y + box.h);
      }
    }
  });

  it('draws only the kinds it is asked for and applies lighting drift', () => {
    const base = { seed: 2, widthPx: SIZE, heightPx: SIZE, defectRate: 1, defectKinds: ['dent'] as const };
    for (let i = 0; i < 20; i++) expect(renderPart(i, base).truth.label).toBe('dent');
    const mean = (rgb: Uint8Array, ch: number): number => {
      let s = 0;
      for (let o = ch; o < rgb.length; o += 3) s += rgb[o]!;
      return s / (rgb.length / 3);
    };
    const normal = renderPart(0, base).rgb;
    const dim = renderPart(0, { ...base, brightness: 0.7 }).rgb;
    const red = renderPart(0, { ...base, tint: [1.2, 1, 0.8] }).rgb;
    expect(mean(dim, 1)).toBeLessThan(mean(normal, 1) * 0.8);
    expect(mean(red, 0) - mean(red, 2)).toBeGreaterThan(mean(normal, 0) - mean(normal, 2) + 10);
  });
});

describe('SyntheticLine', () => {
  it('delivers decodable frames of the configured size with truth, mask and an advancing source ref', async () => {
    const line = new SyntheticLine({ seed: 1, widthPx: 200, heightPx: 150, format: 'jpeg', startIndex: 10, defectRate: 1 });
    await line.open();
    const a = await line.grab();
    const b = await line.grab();
    expect(a.sourceRef).toBe('synthetic:10');
    expect(b.sourceRef).toBe('synthetic:11');
    const meta = await sharp(a.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 200, 150]);
    expect(a.truth?.label).not.toBe(GOOD_LABEL);
    expect((await sharp(a.truthMask!).metadata()).channels).toBe(1);
    const mask = await sharp(a.truthMask!).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect([mask.info.width, mask.info.height, mask.info.channels]).toEqual([200, 150, 1]);
    expect(mask.data.some((v) => v === 255)).toBe(true);
    expect(line.status()).toMatchObject({ state: 'ok', framesGrabbed: 2, framesFailed: 0 });
    await line.close();
    expect(line.status().state).toBe('stopped');
  });

  it('encodes PNG frames that decode to exactly the rendered pixels', async () => {
    const line = new SyntheticLine({ seed: 4, widthPx: SIZE, heightPx: SIZE, format: 'png' });
    await line.open();
    const frame = await line.grab();
    const decoded = await sharp(frame.data).removeAlpha().raw().toBuffer();
    expect(decoded.equals(Buffer.from(renderPart(0, { seed: 4, widthPx: SIZE, heightPx: SIZE }).rgb))).toBe(true);
    await line.close();
  });

  it('refuses to grab before it is opened', async () => {
    const line = new SyntheticLine({ seed: 1, format: 'png' });
    await expect(line.grab()).rejects.toMatchObject({ code: 'LOUPE_ERR_CAMERA_UNAVAILABLE' });
  });
});
