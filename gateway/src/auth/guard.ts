import type { FastifyReply, FastifyRequest } from 'fastify';
import '@fastify/cookie';
import { LoupeError } from '../errors.js';
import type { Role } from '../store/users.js';
import type { Operator, OperatorAuth } from './operator-auth.js';
import { roleAllows } from './roles.js';

export const SESSION_COOKIE = 'loupe_session';

export interface GuardOptions {
  /** Least role the route needs. Default operator. */
  role?: Role;
  /** The request is an operator action: it resets the idle lock. Default false. */
  activity?: boolean;
  /** Let a locked session through (unlock, logout, who-am-i). Default false. */
  allowLocked?: boolean;
}

/**
 * Routes ask for the operator behind a request: one call that refuses
 * without a session (401), with a locked one (401, SESSION_LOCKED) or a role
 * too small (403), and otherwise says who acts.
 */
export function operatorOf(auth: OperatorAuth, req: FastifyRequest, opts: GuardOptions = {}): Operator {
  const op = auth.resolve(req.cookies[SESSION_COOKIE], { allowLocked: opts.allowLocked ?? false });
  if (!roleAllows(op.user.role, opts.role ?? 'operator')) {
    throw new LoupeError('LOUPE_ERR_AUTH_FORBIDDEN', `${op.user.role} ${op.user.id} may not do this: it needs the ${opts.role} role`);
  }
  if (opts.activity && !op.locked) auth.touch(op);
  return op;
}

/**
 * HttpOnly (no script reads it), SameSite=Strict (no other site's page can
 * send it: together with JSON-only bodies this is the CSRF defence).
 */
export function setSessionCookie(reply: FastifyReply, token: string, opts: { secure: boolean; maxAgeS: number }): void {
  reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'strict', secure: opts.secure, maxAge: opts.maxAgeS });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}
