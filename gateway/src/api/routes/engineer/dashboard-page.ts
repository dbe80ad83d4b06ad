import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiContext } from '../../context.js';

/**
 * The engineer dashboard page (hmi/dashboard.html, built beside the HMI).
 * The page itself holds no data: it asks for a login and then reads the
 * engineer API, which checks every call. Its assets come from the HMI's
 * static files.
 */
export const dashboardPage =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/dashboard', { schema: { hide: true } }, async (_req, reply) => {
      reply.header('cache-control', 'no-cache');
      reply.header('content-security-policy', "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
      reply.header('x-frame-options', 'DENY');
      try {
        return reply.type('text/html; charset=utf-8').send(await readFile(join(ctx.hmi.distDir, 'dashboard.html')));
      } catch {
        return reply
          .code(503)
          .type('text/html; charset=utf-8')
          .send('<!doctype html><meta charset="utf-8"><title>Loupe</title><h1>The dashboard is not built</h1><p>Run <code>npm run build:hmi</code> and reload.</p>');
      }
    });
  };
