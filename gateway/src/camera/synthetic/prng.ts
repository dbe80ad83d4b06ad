/**
 * Small seeded random numbers. Each part gets its own generator seeded from
 * (seed, index), so part 1234 looks the same whether or not parts 0..1233
 * were ever rendered.
 */

/** A generator of uniform floats in [0, 1). */
export type Random = () => number;

/** 32-bit mix of a seed and a part index (splitmix32 finaliser). */
export function hashSeed(seed: number, index: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b9) ^ Math.imul(index | 0, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad);
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97);
  return (h ^ (h >>> 15)) >>> 0;
}

/** mulberry32: fast, 32-bit state, good enough for textures and poses. */
export function mulberry32(state: number): Random {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(random: Random, min: number, max: number): number {
  return min + (max - min) * random();
}

export function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick() from an empty list');
  return item;
}
