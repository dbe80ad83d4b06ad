import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LoupeError } from '../../errors.js';
import type { ApiContext } from '../context.js';
import { errorDto, inspectionDto, toInspectionDto } from '../schemas.js';

const MIME: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', bmp: 'image/bmp', tif: 'image/tiff', webp: 'image/webp', bin: 'application/octet-stream' };

/** The inspection log, newest first, with cursor pagination that stays correct while parts arrive. */
export const inspectionRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/api/inspections',
      {
        schema: {
          tags: ['inspections'],
          summary: 'Recent inspections, newest first',
          querystring: z.object({
            station: z.string().optional(),
            verdict: z.enum(['pass', 'fail', 'review']).optional(),
            state: z.enum(['decided', 'awaiting-review', 'reviewed', 'timed-out', 'error']).optional(),
            before: z.string().optional().describe('cursor: return inspections older than this id'),
            limit: z.coerce.number().int().min(1).max(500).default(50),
          }),
          response: { 200: z.object({ items: z.array(inspectionDto), nextCursor: z.string().nullable() }) },
        },
      },
      async (req) => {
        const items = ctx.store.inspections.list(req.query);
        return { items: items.map(toInspectionDto), nextCursor: items.length === req.query.limit ? (items.at(-1)?.id ?? null) : null };
      },
    );

    app.get(
      '/api/inspections/:id',
      { schema: { tags: ['inspections'], summary: 'One inspection', params: z.object({ id: z.string() }), response: { 200: inspectionDto, 404: errorDto } } },
      async (req) => {
        const i = ctx.store.inspections.get(req.params.id);
        if (!i) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no inspection ${req.params.id}`);
        return toInspectionDto(i);
      },
    );

    app.get(
      '/api/inspections/:id/image',
      { schema: { tags: ['inspections'], summary: 'The frame as captured (JPEG, PNG, ...)', params: z.object({ id: z.string() }) } },
      async (req, reply) => {
        const i = ctx.store.inspections.get(req.params.id);
        if (!i?.imageRef) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no image for inspection ${req.params.id} (never stored or pruned by retention)`);
        const ext = i.imageRef.split('.').pop() ?? 'bin';
        reply.header('cache-control', 'private, max-age=86400, immutable');
        reply.type(MIME[ext] ?? 'application/octet-stream');
        return reply.send(await ctx.store.images.read(i.imageRef));
      },
    );
  };
