import type { Role } from '../store/users.js';

/** Each role can do what the ones before it can: operator reviews, engineer also tunes, admin also manages people. */
export const ROLES: readonly Role[] = ['operator', 'engineer', 'admin'];

export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** Operator ids as typed at a keypad or scanned from a badge: lower case letters, digits, `.`, `_`, `-`. */
export const OPERATOR_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;

export function normaliseOperatorId(id: string): string {
  return id.trim().toLowerCase();
}
