import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { operatorOf, SESSION_COOKIE } from '../../auth/guard.js';
import type { Inspection } from '../../inspect/inspection.js';
import type { Settlement } from '../../review/review-queue.js';
import type { ApiContext } from '../context.js';
import { LineStatusBoard } from '../line-status.js';
import { reviewStations, toQueueItem, type ReviewClaims } from './review.js';

/** How often the status screen gets a fresh snapshot; it doubles as the stream's heartbeat. */
const STATUS_EVERY_MS = 2000;
/** A screen that reads slower than this much backlog is dropped; it reconnects and gets a fresh snapshot. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

interface Client {
  raw: ServerResponse;
  /** Session cookie, re-checked before every review event: a locked or ended session stops getting them. */
  token: string | undefined;
  review: boolean;
  station: string | undefined;
}

/**
 * Live updates for the HMI as Server-Sent Events on `/api/events`.
 * Everyone gets `status` (every 2 s) and `part` (each inspected or settled
 * part), for the wall display. A logged-in, unlocked screen also gets the
 * review queue: `review.snapshot` on connect, then `review.added`,
 * `review.settled` and `review.claims`. A reconnect starts with a fresh
 * snapshot, so a screen never has to replay missed events.
 */
export const eventRoutes =
  (ctx: ApiContext, claims: ReviewClaims): FastifyPluginAsyncZod =>
  async (app) => {
    const auth = ctx.hmi.auth;
    /** Changes on every start: a screen notices the gateway restarted. */
    const bootId = randomBytes(6).toString('hex');
    const board = new LineStatusBoard({
      stations: ctx.stations,
      store: ctx.store,
      review: ctx.review,
      links: ctx.links,
      origin: ctx.hmi.origin,
      shiftStarts: ctx.hmi.config.shiftStarts,
    });
    const clients = new Set<Client>();

    const write = (c: Client, event: string, data: unknown) => {
      if (c.raw.writableLength > MAX_BUFFERED_BYTES) return drop(c);
      c.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const drop = (c: Client) => {
      clients.delete(c);
      c.raw.end();
    };
    const toAll = (event: string, data: unknown) => clients.forEach((c) => write(c, event, data));
    const toReviewers = (event: string, data: unknown, station?: string) => {
      for (const c of clients) {
        if (!c.review || (station !== undefined && c.station !== undefined && c.station !== station)) continue;
        try {
          auth.resolve(c.token);
        } catch (err) {
          // Locked or logged out: stop the review feed; the screen shows its lock or login page.
          c.review = false;
          write(c, 'auth', { code: (err as { code?: string }).code ?? 'LOUPE_ERR_AUTH_REQUIRED' });
          continue;
        }
        write(c, event, data);
      }
    };

    const onInspected = (i: Inspection) => {
      board.onInspected(i);
      toAll('part', board.recentPart(i.id));
    };
    const onAdded = (i: Inspection) => toReviewers('review.added', toQueueItem(ctx, i), i.station);
    const onSettled = (s: Settlement) => {
      board.onSettled(s);
      const d = s.decision;
      const i = s.inspection;
      toReviewers(
        'review.settled',
        {
          inspectionId: i.id,
          partId: i.partId,
          station: i.station,
          verdict: d.verdict,
          defectClass: d.defectClass,
          decidedBy: d.decidedBy,
          decisionId: d.id,
          operatorId: d.operatorId,
          operatorName: d.operatorId ? auth.nameOf(d.operatorId) : null,
          decidedAt: d.decidedAt.toISOString(),
          reason: i.reason,
        },
        i.station,
      );
      toAll('part', board.recentPart(i.id));
    };
    const onClaims = () => toReviewers('review.claims', claims.list().map(({ until: _u, ...c }) => c));

    for (const s of ctx.stations.values()) s.on('inspected', onInspected);
    ctx.review.on('added', onAdded);
    ctx.review.on('settled', onSettled);
    claims.on('changed', onClaims);
    const timer = setInterval(() => {
      if (clients.size > 0) toAll('status', board.snapshot());
    }, STATUS_EVERY_MS);
    timer.unref();

    // SSE responses never end on their own: end them before the server waits for open requests.
    app.addHook('preClose', async () => {
      clearInterval(timer);
      for (const s of ctx.stations.values()) s.off('inspected', onInspected);
      ctx.review.off('added', onAdded);
      ctx.review.off('settled', onSettled);
      claims.off('changed', onClaims);
      for (const c of clients) c.raw.end();
      clients.clear();
    });

    /** Status for everyone unless `hmi.publicStatus` is off; then it needs a login like the rest of the API. */
    const mayWatch = (req: FastifyRequest) => {
      if (!ctx.hmi.config.publicStatus) operatorOf(auth, req, { allowLocked: true });
    };

    app.get('/api/status', { schema: { tags: ['hmi'], summary: 'Line status as the status screen shows it (stations, links, uplink backlog, shift yield, recent parts)' } }, async (req) => {
      mayWatch(req);
      return board.snapshot();
    });

    app.get(
      '/api/events',
      { schema: { tags: ['hmi'], summary: 'Live updates (text/event-stream): status, parts, and the review queue for a logged-in screen', querystring: z.object({ station: z.string().optional() }) } },
      (req, reply) => {
        mayWatch(req);
        let review = false;
        try {
          operatorOf(auth, req);
          review = true;
        } catch {
          // Anonymous (wall display) or locked: status only.
        }
        const client: Client = { raw: reply.raw, token: req.cookies[SESSION_COOKIE], review, station: req.query.station };
        reply.hijack();
        reply.raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        reply.raw.write('retry: 2000\n\n');
        clients.add(client);
        req.raw.on('close', () => clients.delete(client));
        write(client, 'hello', { bootId, serverTime: new Date().toISOString(), review });
        write(client, 'status', board.snapshot());
        if (review) {
          write(client, 'review.snapshot', {
            stations: reviewStations(ctx),
            items: ctx.review.list(client.station).map((i) => toQueueItem(ctx, i)),
            claims: claims.list().map(({ until: _u, ...c }) => c),
            serverTime: new Date().toISOString(),
          });
        }
      },
    );
  };
