import { DataType } from 'node-opcua';

/**
 * Sequence counters wrap modulo the width the PLC declares (an S7 `UInt`
 * wraps at 65536, a `DInt` at 2^32 through negative values). Loupe keeps
 * every counter as an unsigned number below the modulus and converts at the
 * tag, so the handshake logic never sees the declared width.
 */
export interface CounterWidth {
  modulus: number;
  signed: boolean;
}

const WIDTHS: Partial<Record<DataType, CounterWidth>> = {
  [DataType.Byte]: { modulus: 2 ** 8, signed: false },
  [DataType.SByte]: { modulus: 2 ** 8, signed: true },
  [DataType.UInt16]: { modulus: 2 ** 16, signed: false },
  [DataType.Int16]: { modulus: 2 ** 16, signed: true },
  [DataType.UInt32]: { modulus: 2 ** 32, signed: false },
  [DataType.Int32]: { modulus: 2 ** 32, signed: true },
};

export function counterWidth(t: DataType): CounterWidth {
  return WIDTHS[t] ?? { modulus: 2 ** 32, signed: false };
}

/** The PLC's value (possibly negative) as 0..modulus-1. */
export function toUnsigned(value: number, w: CounterWidth): number {
  const v = Math.trunc(value) % w.modulus;
  return v < 0 ? v + w.modulus : v;
}

/** 0..modulus-1 as the value to write (negative above half range for signed types). */
export function fromUnsigned(u: number, w: CounterWidth): number {
  return w.signed && u >= w.modulus / 2 ? u - w.modulus : u;
}

/** Steps from `from` to `to`, both unsigned: 0 = same, 1 = next. */
export function steps(from: number, to: number, w: CounterWidth): number {
  return (((to - from) % w.modulus) + w.modulus) % w.modulus;
}

/** A step of more than half the range is a counter that went back (PLC restart or reset), not a jump forward. */
export function wentBack(stepCount: number, w: CounterWidth): boolean {
  return stepCount > w.modulus / 2;
}

export function increment(u: number, w: CounterWidth, by = 1): number {
  return (u + by) % w.modulus;
}
