import type { Role } from '../store/users.js';

/**
 * Created on first start when no operator exists (`hmi.seedDemoUsers`), so
 * the demo can be used at once. Their PINs are public: the log warns at every
 * start while they still work. A real deployment creates its people with
 * `loupe users add` before the first start (then nothing is seeded) or
 * changes these PINs with `loupe users reset-pin`.
 */
export const DEMO_USERS: readonly { id: string; name: string; role: Role; pin: string }[] = [
  { id: 'admin', name: 'Administrator', role: 'admin', pin: '2580' },
  { id: 'op1', name: 'Demo operator', role: 'operator', pin: '1234' },
];
