import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.js';

const link = z.object({ name: z.string(), state: z.enum(['ok', 'degraded', 'down', 'disabled']), detail: z.string().nullable() });

/**
 * Liveness (`/healthz`: the process answers) and readiness (`/readyz`: every
 * station runs and its camera delivers), for Docker, systemd and load balancers.
 * `/metrics` is Prometheus text. None of these need credentials.
 */
export const healthRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/healthz', { schema: { hide: true, response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

    app.get(
      '/readyz',
      { schema: { hide: true, response: { 200: z.object({ ready: z.boolean(), links: z.array(link) }), 503: z.object({ ready: z.boolean(), links: z.array(link) }) } } },
      async (_req, reply) => {
        const cameras = [...ctx.stations.values()].map((s) => {
          const st = s.status();
          const state = !st.running ? 'down' : st.camera.state === 'ok' || st.camera.state === 'starting' ? 'ok' : st.camera.state === 'degraded' ? 'degraded' : 'down';
          return { name: `camera:${s.id}`, state, detail: st.camera.lastError } as const;
        });
        const links = [...cameras, ...ctx.links()];
        const ready = ctx.ready() && cameras.every((c) => c.state !== 'down');
        return reply.code(ready ? 200 : 503).send({ ready, links });
      },
    );

    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    });
  };
