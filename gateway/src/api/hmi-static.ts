import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEMO_USERS } from '../auth/demo-users.js';
import type { ApiContext } from './context.js';

/** Paths the single-page HMI answers itself (history routing): each gets index.html. */
const PAGES = ['/', '/login', '/review', '/status', '/users', '/kiosk'];

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Loupe</title>
<body style="font:24px sans-serif;padding:2em"><h1>The HMI is not built</h1>
<p>Run <code>npm run build</code> (or <code>npm run build:hmi</code>) and reload. The API answers at <a href="/api/docs">/api/docs</a>.</p>`;

/** How long the demo-PIN check is trusted: it costs two scrypt runs. */
const DEMO_CHECK_MS = 30_000;

/**
 * Serves the built operator page (hmi/dist) from the gateway itself: no CDN,
 * nothing from the internet. Hashed assets are cached for good; the page
 * itself never, so a gateway update reaches every screen on its next load.
 * `/api/hmi` tells the page what it needs before anyone logs in.
 */
export const hmiStatic =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const dist = ctx.hmi.distDir;
    const built = existsSync(join(dist, 'index.html'));
    if (!built) ctx.log.warn({ dir: dist }, 'HMI page not built: run npm run build:hmi; the API works without it');

    let demo = { at: 0, active: false };
    const demoPinsActive = async () => {
      if (Date.now() - demo.at > DEMO_CHECK_MS) {
        const active = (await Promise.all(DEMO_USERS.map((u) => ctx.hmi.auth.hasPin(u.id, u.pin)))).some(Boolean);
        demo = { at: Date.now(), active };
      }
      return demo.active;
    };

    app.get(
      '/api/hmi',
      {
        schema: {
          tags: ['hmi'],
          summary: 'What the HMI page needs before login: language, locking, kiosk and station names',
          response: {
            200: z.object({
              language: z.enum(['en', 'de']),
              idleLockMs: z.number(),
              undoWindowMs: z.number(),
              kiosk: z.object({ screen: z.enum(['review', 'status']), station: z.string().nullable(), hideCursor: z.boolean() }),
              origin: z.object({ site: z.string(), line: z.string(), gatewayId: z.string() }),
              stations: z.array(z.object({ id: z.string(), name: z.string() })),
              demoPinsActive: z.boolean(),
              publicStatus: z.boolean(),
            }),
          },
        },
      },
      async () => {
        const c = ctx.hmi.config;
        return {
          language: c.language,
          idleLockMs: Math.round(c.idleLockMinutes * 60_000),
          undoWindowMs: c.undoWindowMs,
          kiosk: { screen: c.kiosk.screen, station: c.kiosk.station ?? null, hideCursor: c.kiosk.hideCursor },
          origin: ctx.hmi.origin,
          stations: [...ctx.stations.values()].map((s) => ({ id: s.id, name: s.cfg.name ?? s.id })),
          demoPinsActive: await demoPinsActive(),
          publicStatus: c.publicStatus,
        };
      },
    );

    if (built) {
      await app.register(fastifyStatic, {
        root: dist,
        prefix: '/',
        index: false,
        wildcard: true,
        // Vite names assets by content hash: a changed file gets a new name, so they can be cached for good.
        setHeaders: (reply, path) => {
          reply.header('cache-control', path.includes(join(dist, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache');
          reply.header('x-content-type-options', 'nosniff');
        },
      });
    }
    for (const page of PAGES) {
      app.get(page, { schema: { hide: true } }, async (_req, reply) => {
        reply.header('cache-control', 'no-cache');
        // The page runs only what it ships: no inline script, nothing from elsewhere.
        reply.header('content-security-policy', "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
        reply.header('x-frame-options', 'DENY');
        if (!built) return reply.code(503).type('text/html').send(NOT_BUILT);
        return reply.sendFile('index.html', { cacheControl: false });
      });
    }
  };
