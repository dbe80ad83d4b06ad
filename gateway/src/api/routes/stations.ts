import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiAccess } from '../../auth/api-access.js';
import { LoupeError } from '../../errors.js';
import type { ApiContext } from '../context.js';
import { errorDto, inspectionDto, toInspectionDto } from '../schemas.js';

const stationStatus = z.object({
  id: z.string(),
  name: z.string(),
  running: z.boolean(),
  camera: z.object({ state: z.string(), lastError: z.string().nullable(), framesGrabbed: z.number(), framesFailed: z.number() }),
  model: z.object({ id: z.string(), version: z.string(), provider: z.string(), sha256: z.string() }),
  inFlight: z.number(),
  queued: z.number(),
  parts: z.number(),
  missedTriggers: z.number(),
  partsPerSecond: z.number(),
  lastPartAt: z.string().nullable(),
  thresholds: z.object({ passBelow: z.number(), failAtOrAbove: z.number(), auditRate: z.number() }),
  reviewBacklog: z.number(),
});

/** Station state and the API trigger (`trigger.type: api`, or a manual test shot on any station). */
export const stationRoutes =
  (ctx: ApiContext, access: ApiAccess): FastifyPluginAsyncZod =>
  async (app) => {
    const station = (id: string) => {
      const s = ctx.stations.get(id);
      if (!s) throw new LoupeError('LOUPE_ERR_STATION_UNKNOWN', `no station "${id}", expected one of ${[...ctx.stations.keys()].join(', ')}`);
      return s;
    };
    const statusOf = (id: string) => {
      const s = station(id);
      const t = s.thresholds;
      return { ...s.status(), thresholds: { passBelow: t.passBelow, failAtOrAbove: t.failAtOrAbove, auditRate: t.auditRate }, reviewBacklog: ctx.review.list(id).length };
    };

    app.get('/api/stations', { onRequest: access.guard('view'), schema: { tags: ['stations'], summary: 'All stations with camera, model and throughput', response: { 200: z.array(stationStatus) } } }, async () =>
      [...ctx.stations.keys()].map(statusOf),
    );

    app.get(
      '/api/stations/:id',
      { onRequest: access.guard('view'), schema: { tags: ['stations'], summary: 'One station', params: z.object({ id: z.string() }), response: { 200: stationStatus, 404: errorDto } } },
      async (req) => statusOf(req.params.id),
    );

    app.post(
      '/api/stations/:id/trigger',
      {
        onRequest: access.guard('write'),
        schema: {
          tags: ['stations'],
          summary: 'Inspect one part now and return its committed inspection',
          params: z.object({ id: z.string() }),
          body: z.object({ partId: z.string().min(1).max(128).optional() }).optional(),
          response: { 200: inspectionDto, 404: errorDto, 409: errorDto, 429: errorDto },
        },
      },
      async (req) => {
        const partId = req.body?.partId;
        const i = await station(req.params.id).trigger(partId === undefined ? { via: 'api' } : { via: 'api', partId });
        return toInspectionDto(i);
      },
    );
  };
