import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { errorMessage, isLoupeError, LoupeError } from '../errors.js';
import type { ApiTokenRepo, TokenScope } from '../store/api-tokens.js';
import type { Role } from '../store/users.js';
import type { ApiTokens } from './api-tokens.js';
import { operatorOf } from './guard.js';
import type { OperatorAuth } from './operator-auth.js';
import { roleAllows } from './roles.js';

/**
 * What a route needs:
 * - `view`: any logged-in person (operators see part images), or any token;
 * - `read`: an engineer (or admin) session, or any token;
 * - `write`: an engineer session, or an admin token;
 * - `admin`: an admin session, or an admin token.
 */
export type AccessLevel = 'view' | 'read' | 'write' | 'admin';

const SESSION_ROLE: Record<AccessLevel, Role> = { view: 'operator', read: 'engineer', write: 'engineer', admin: 'admin' };
const TOKEN_SCOPES: Record<AccessLevel, readonly TokenScope[]> = { view: ['read', 'admin'], read: ['read', 'admin'], write: ['admin'], admin: ['admin'] };

/** Who is behind a request that passed the guard. */
export interface Principal {
  kind: 'session' | 'token';
  /** Operator id, or `token:<id>`. */
  id: string;
  /** A read token acts as an engineer that cannot write; an admin token as an admin. */
  role: Role;
  /** Token scope; null for a session. */
  scope: TokenScope | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API access guard; null on routes without one. */
    principal: Principal | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * One gate for the engineer API and the station and inspection routes: a
 * request gets in with `Authorization: Bearer <API token>` or with the HMI
 * session cookie of a person whose role is enough. A bearer header, when
 * sent, is the only credential looked at. Writes are recorded in the audit
 * trail with who made them and how they ended.
 */
export class ApiAccess {
  constructor(private readonly deps: { tokens: ApiTokens; auth: OperatorAuth; repo: ApiTokenRepo; log: Logger }) {}

  /** Decorate requests and audit writes; call once on the root instance before routes are added. */
  install(app: FastifyInstance): void {
    app.decorateRequest('principal', null);
    app.addHook('onResponse', async (req, reply) => {
      const p = req.principal;
      if (p === null || SAFE_METHODS.has(req.method)) return;
      try {
        this.deps.repo.audit({
          at: Date.now(),
          actor: p.id,
          actorKind: p.kind,
          method: req.method,
          route: req.routeOptions.url ?? req.url,
          url: req.url.slice(0, 500),
          status: reply.statusCode,
          ip: req.ip ?? null,
        });
      } catch (err) {
        this.deps.log.error({ err: errorMessage(err), url: req.url }, 'API write could not be written to the audit trail');
      }
    });
  }

  /** A hook (use as `onRequest`) that admits a request at `level` and sets `req.principal`. */
  guard(level: AccessLevel): onRequestAsyncHookHandler {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        // Who it is first (so a refused write is audited with its author), then whether that is enough.
        req.principal = this.identify(req);
        this.check(req.principal, level, req.method);
      } catch (err) {
        if (isLoupeError(err) && err.status === 401) reply.header('www-authenticate', 'Bearer realm="loupe"');
        throw err;
      }
    };
  }

  private identify(req: FastifyRequest): Principal {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m?.[1]) throw new LoupeError('LOUPE_ERR_AUTH_TOKEN_INVALID', 'Authorization header: expected "Bearer <API token>"');
      const t = this.deps.tokens.verify(m[1]);
      return { kind: 'token', id: `token:${t.id}`, role: t.scope === 'admin' ? 'admin' : 'engineer', scope: t.scope };
    }
    // A person at a screen: a write is an action that restarts the idle lock; reading is not.
    const op = operatorOf(this.deps.auth, req, { role: 'operator', activity: !SAFE_METHODS.has(req.method) });
    return { kind: 'session', id: op.user.id, role: op.user.role, scope: null };
  }

  private check(p: Principal, level: AccessLevel, method: string): void {
    if (p.scope !== null) {
      if (!TOKEN_SCOPES[level].includes(p.scope) || (!SAFE_METHODS.has(method) && p.scope !== 'admin')) {
        throw new LoupeError('LOUPE_ERR_AUTH_TOKEN_SCOPE', `API token ${p.id.slice('token:'.length)} has scope ${p.scope}: this needs an admin token`, { details: { scope: p.scope } });
      }
      return;
    }
    const needed = SESSION_ROLE[level];
    if (!roleAllows(p.role, needed)) throw new LoupeError('LOUPE_ERR_AUTH_FORBIDDEN', `${p.role} ${p.id} may not do this: it needs the ${needed} role`);
  }
}
