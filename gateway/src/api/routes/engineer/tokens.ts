import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Principal } from '../../../auth/api-access.js';
import { LoupeError } from '../../../errors.js';
import { errorDto } from '../../schemas.js';
import { secured, tokenViewDto } from './dto.js';
import type { EngineerApi } from './engineer-api.js';

const denied = { 401: errorDto, 403: errorDto };

const principalOf = (p: Principal | null): Principal => {
  if (p === null) throw new LoupeError('LOUPE_ERR_AUTH_REQUIRED');
  return p;
};

/**
 * API tokens for scripts. Engineers make read tokens for themselves; admins
 * make admin tokens and see and revoke everyone's. The token itself is in
 * the answer to the POST and nowhere else, ever.
 */
export const tokenRoutes =
  (api: EngineerApi): FastifyPluginAsyncZod =>
  async (app) => {
    const { access, tokens } = api;

    app.get(
      '/api/tokens',
      {
        onRequest: access.guard('read'),
        schema: { tags: ['tokens'], security: secured, summary: 'API tokens: your own, or all of them for an admin', response: { 200: z.array(tokenViewDto), ...denied } },
      },
      async (req) => {
        const p = principalOf(req.principal);
        return tokens.list(p.role === 'admin' ? undefined : p.id);
      },
    );

    app.post(
      '/api/tokens',
      {
        onRequest: access.guard('write'),
        schema: {
          tags: ['tokens'], security: secured,
          summary: 'Create an API token: the answer holds the token, shown this once',
          body: z.object({
            name: z.string().trim().min(1).max(80).describe('what it is for, e.g. "nightly MES export"'),
            scope: z.enum(['read', 'admin']).default('read').describe('read: GET only; admin: everything (admins only)'),
            expiresInDays: z.number().min(0.01).max(3650).optional().describe('omitted: valid until revoked'),
          }),
          response: { 201: tokenViewDto.extend({ token: z.string().describe('send as "Authorization: Bearer <token>"; not shown again') }), 400: errorDto, ...denied },
        },
      },
      async (req, reply) => {
        const p = principalOf(req.principal);
        if (req.body.scope === 'admin' && p.role !== 'admin') {
          throw new LoupeError('LOUPE_ERR_AUTH_FORBIDDEN', `${p.id} may not create admin tokens: it needs the admin role`);
        }
        const { token, view } = tokens.create({ name: req.body.name, scope: req.body.scope, expiresInDays: req.body.expiresInDays, createdBy: p.id });
        return reply.code(201).send({ ...view, token });
      },
    );

    app.delete(
      '/api/tokens/:id',
      {
        onRequest: access.guard('write'),
        schema: {
          tags: ['tokens'], security: secured,
          summary: 'Revoke an API token at once (your own; any for an admin)',
          params: z.object({ id: z.string() }),
          response: { 200: tokenViewDto, 404: errorDto, ...denied },
        },
      },
      async (req) => {
        const p = principalOf(req.principal);
        const t = tokens.get(req.params.id);
        if (p.role !== 'admin' && t.createdBy !== p.id) throw new LoupeError('LOUPE_ERR_AUTH_FORBIDDEN', `token ${t.id} belongs to ${t.createdBy}: only they or an admin may revoke it`);
        return tokens.revoke(req.params.id, p.id);
      },
    );

    app.get(
      '/api/audit',
      {
        onRequest: access.guard('admin'),
        schema: {
          tags: ['tokens'], security: secured,
          summary: 'Audit trail of writes through the API, newest first (admin)',
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
          response: {
            200: z.array(
              z.object({
                at: z.string(),
                actor: z.string(),
                actorKind: z.enum(['session', 'token']),
                method: z.string(),
                route: z.string(),
                url: z.string(),
                status: z.number().int(),
                ip: z.string().nullable(),
              }),
            ),
            ...denied,
          },
        },
      },
      async (req) => api.tokenRepo.auditTrail(req.query.limit).map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
    );
  };
