import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { LoupeError } from '../errors.js';

/**
 * PINs are short, so the hash must be slow and salted: scrypt (memory-hard)
 * with a random salt per operator. Parameters travel inside the stored
 * string, so they can be raised later without breaking existing PINs.
 */
const DEFAULT = { N: 16_384, r: 8, p: 1, keyLength: 32, saltLength: 16 };

/** 4 to 12 digits: what a glove can type on a keypad, and what a PLC-side badge reader delivers. */
export function checkPinPolicy(pin: string): void {
  if (!/^\d{4,12}$/.test(pin)) throw new LoupeError('LOUPE_ERR_AUTH_PIN_POLICY', 'PIN must be 4 to 12 digits (0-9)');
}

export async function hashPin(pin: string, params = DEFAULT): Promise<string> {
  checkPinPolicy(pin);
  const salt = randomBytes(params.saltLength);
  const key = await derive(pin, salt, params.keyLength, { N: params.N, r: params.r, p: params.p });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Constant-time check of `pin` against a stored hash; false (never a throw) for a malformed hash. */
export async function verifyPin(pin: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const expected = Buffer.from(parts[5] ?? '', 'base64');
  if (!N || !r || !p || salt.length === 0 || expected.length === 0) return false;
  const key = await derive(pin, salt, expected.length, { N, r, p });
  return timingSafeEqual(key, expected);
}

let dummy: Promise<string> | null = null;

/**
 * A hash to check against when the operator id does not exist, so a wrong id
 * costs the same time as a wrong PIN and ids cannot be probed by timing.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPin('000000');
  return dummy;
}

function derive(pin: string, salt: Buffer, keyLength: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128 * N * r bytes; leave headroom above Node's 32 MB default.
    scrypt(pin.normalize('NFKC'), salt, keyLength, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
