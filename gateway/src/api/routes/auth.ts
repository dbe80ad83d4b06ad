import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clearSessionCookie, operatorOf, setSessionCookie } from '../../auth/guard.js';
import type { Operator } from '../../auth/operator-auth.js';
import { ROLES } from '../../auth/roles.js';
import { isLoupeError } from '../../errors.js';
import type { ApiContext } from '../context.js';
import { errorDto } from '../schemas.js';
import { screenIdOf } from './review.js';

const role = z.enum(ROLES as ['operator', 'engineer', 'admin']);
const pin = z.string().min(1).max(32).describe('4 to 12 digits');

const sessionDto = z.object({
  operatorId: z.string(),
  name: z.string(),
  role,
  /** Locked after inactivity: the same operator unlocks with the PIN. */
  locked: z.boolean(),
  /** This screen, as other screens see it in claims. */
  screenId: z.string(),
  expiresAt: z.string(),
  idleLockMs: z.number(),
});

const userDto = z.object({
  id: z.string(),
  name: z.string(),
  role,
  disabled: z.boolean(),
  lockedOut: z.boolean(),
  lockedUntil: z.string().nullable(),
  lastLoginAt: z.string().nullable(),
});

/**
 * Operator login with id + PIN, the idle lock, and (admin) the list of
 * operators. The session travels in an HttpOnly, SameSite=Strict cookie.
 */
export const authRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const auth = ctx.hmi.auth;
    const cfg = ctx.hmi.config;
    const idleLockMs = cfg.idleLockMinutes * 60_000;
    const view = (op: Operator) => ({
      operatorId: op.user.id,
      name: op.user.name,
      role: op.user.role,
      locked: op.locked,
      screenId: screenIdOf(op),
      expiresAt: new Date(op.session.expiresAt).toISOString(),
      idleLockMs,
    });
    const lockedOutHeader = (err: unknown, reply: { header: (k: string, v: string) => unknown }) => {
      if (isLoupeError(err, 'LOUPE_ERR_AUTH_LOCKED_OUT')) reply.header('retry-after', String(err.details?.retryAfterS ?? 60));
    };

    app.post(
      '/api/auth/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log in with operator id and PIN; sets the session cookie',
          body: z.object({ operatorId: z.string().min(1).max(64), pin }),
          response: { 200: sessionDto, 401: errorDto, 403: errorDto, 429: errorDto },
        },
      },
      async (req, reply) => {
        try {
          const { token, operator } = await auth.login(req.body.operatorId, req.body.pin, req.headers['user-agent'] ?? null);
          setSessionCookie(reply, token, { secure: cfg.cookieSecure, maxAgeS: Math.floor((operator.session.expiresAt - Date.now()) / 1000) });
          return view(operator);
        } catch (err) {
          lockedOutHeader(err, reply);
          throw err;
        }
      },
    );

    app.get('/api/auth/session', { schema: { tags: ['auth'], summary: 'Who is logged in on this screen', response: { 200: sessionDto, 401: errorDto } } }, async (req) =>
      view(operatorOf(auth, req, { allowLocked: true })),
    );

    app.post('/api/auth/logout', { schema: { tags: ['auth'], summary: 'End the session' } }, async (req, reply) => {
      try {
        auth.logout(operatorOf(auth, req, { allowLocked: true }));
      } catch (err) {
        if (!isLoupeError(err, 'LOUPE_ERR_AUTH_REQUIRED')) throw err;
      }
      clearSessionCookie(reply);
      return reply.code(204).send();
    });

    app.post('/api/auth/lock', { schema: { tags: ['auth'], summary: 'Lock the screen now (the operator steps away)' } }, async (req, reply) => {
      auth.lock(operatorOf(auth, req, { allowLocked: true }));
      return reply.code(204).send();
    });

    app.post(
      '/api/auth/unlock',
      { schema: { tags: ['auth'], summary: 'The same operator unlocks a locked screen with the PIN', body: z.object({ pin }), response: { 200: sessionDto, 401: errorDto, 429: errorDto } } },
      async (req, reply) => {
        try {
          return view(await auth.unlock(operatorOf(auth, req, { allowLocked: true }), req.body.pin));
        } catch (err) {
          lockedOutHeader(err, reply);
          throw err;
        }
      },
    );

    app.post('/api/auth/activity', { schema: { tags: ['auth'], summary: 'The operator touched the screen: restart the idle lock' } }, async (req, reply) => {
      operatorOf(auth, req, { activity: true });
      return reply.code(204).send();
    });

    app.post(
      '/api/auth/pin',
      { schema: { tags: ['auth'], summary: 'Change your own PIN', body: z.object({ currentPin: pin, newPin: pin }) } },
      async (req, reply) => {
        await auth.changeOwnPin(operatorOf(auth, req, { activity: true }), req.body.currentPin, req.body.newPin);
        return reply.code(204).send();
      },
    );

    // --- operators (admin) ---
    const admin = { 401: errorDto, 403: errorDto };

    app.get('/api/users', { schema: { tags: ['users'], summary: 'All operators (admin)', response: { 200: z.array(userDto), ...admin } } }, async (req) => {
      operatorOf(auth, req, { role: 'admin' });
      return auth.list();
    });

    app.post(
      '/api/users',
      {
        schema: {
          tags: ['users'],
          summary: 'Add an operator (admin)',
          body: z.object({ id: z.string().min(1).max(32), name: z.string().max(80).default(''), role: role.default('operator'), pin }),
          response: { 200: userDto, 400: errorDto, 409: errorDto, ...admin },
        },
      },
      async (req) => {
        operatorOf(auth, req, { role: 'admin', activity: true });
        return auth.addUser(req.body);
      },
    );

    app.patch(
      '/api/users/:id',
      {
        schema: {
          tags: ['users'],
          summary: 'Rename, change role, disable or enable an operator (admin)',
          params: z.object({ id: z.string() }),
          body: z.object({ name: z.string().max(80).optional(), role: role.optional(), disabled: z.boolean().optional() }),
          response: { 200: userDto, 404: errorDto, 409: errorDto, ...admin },
        },
      },
      async (req) => {
        operatorOf(auth, req, { role: 'admin', activity: true });
        return auth.update(req.params.id, req.body);
      },
    );

    app.put(
      '/api/users/:id/pin',
      {
        schema: {
          tags: ['users'],
          summary: "Set an operator's PIN, clear a lockout, end their sessions (admin)",
          params: z.object({ id: z.string() }),
          body: z.object({ pin }),
          response: { 200: userDto, 400: errorDto, 404: errorDto, ...admin },
        },
      },
      async (req) => {
        operatorOf(auth, req, { role: 'admin', activity: true });
        return auth.resetPin(req.params.id, req.body.pin);
      },
    );
  };
