import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LoupeError } from '../../../errors.js';
import { renderOverlay } from '../../../export/overlay.js';
import { decodeCursor, encodeCursor } from '../../../store/queries.js';
import { errorDto } from '../../schemas.js';
import { engineerInspectionDto, historyOf, inspectionDetailDto, secured, toEngineerDto } from './dto.js';
import type { EngineerApi } from './engineer-api.js';
import { filterQuery, toFilter } from './filter-query.js';

const denied = { 401: errorDto, 403: errorDto };

/** Image bytes: immutable per inspection (findings and frame never change), so browsers may cache them. */
function sendImage(reply: FastifyReply, out: { data: Buffer; contentType: string }): FastifyReply {
  reply.header('cache-control', 'private, max-age=86400, immutable');
  return reply.type(out.contentType).send(out.data);
}

/**
 * The inspection log for engineers: one listing with every filter and a
 * cursor that stays correct while parts arrive, one part with its review
 * history, and its image with the findings drawn on it.
 */
export const engineerInspectionRoutes =
  (api: EngineerApi): FastifyPluginAsyncZod =>
  async (app) => {
    const { queries, access } = api;

    const mustGet = (id: string) => {
      const row = queries.get(id);
      if (!row) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no inspection ${id}`);
      return row;
    };

    app.get(
      '/api/inspections',
      {
        onRequest: access.guard('read'),
        schema: {
          tags: ['inspections'], security: secured,
          summary: 'Inspections matching a filter, one page at a time',
          description:
            'Newest first (or oldest first with order=asc). Pass nextCursor as cursor for the next page: a walk sees the log as it was when it began, ' +
            'so parts that arrive meanwhile never shift or repeat a page. A part decided during the walk shows its current state.',
          querystring: filterQuery.extend({
            limit: z.coerce.number().int().min(1).max(500).default(50),
            cursor: z.string().max(500).optional().describe('nextCursor of the previous page'),
            order: z.enum(['desc', 'asc']).default('desc').describe('ignored with a cursor (the walk keeps its direction)'),
            total: z.enum(['true', 'false']).default('false').describe('also count all matches (costs a scan on a large log)'),
          }),
          response: { 200: z.object({ items: z.array(engineerInspectionDto), nextCursor: z.string().nullable(), total: z.number().int().nullable() }), 400: errorDto, ...denied },
        },
      },
      async (req) => {
        const q = req.query;
        const filter = toFilter(q, api.clock);
        const cursor = q.cursor === undefined ? null : decodeCursor(q.cursor);
        if (q.cursor !== undefined && cursor === null) throw new LoupeError('LOUPE_ERR_API_CURSOR_INVALID');
        const page = queries.page(filter, { limit: q.limit, order: q.order, cursor });
        return {
          items: page.items.map(toEngineerDto),
          nextCursor: page.next === null ? null : encodeCursor(page.next),
          total: q.total === 'true' ? queries.count(filter) : null,
        };
      },
    );

    app.get(
      '/api/inspections/facets',
      {
        onRequest: access.guard('read'),
        schema: {
          tags: ['inspections'], security: secured,
          summary: 'Values the filters can take: stations, model versions, defect classes, shifts',
          response: {
            200: z.object({
              stations: z.array(z.string()),
              modelVersions: z.array(z.string()),
              defectClasses: z.array(z.string()),
              timeZone: z.string(),
              shifts: z.array(z.object({ name: z.string(), start: z.string(), end: z.string() })),
            }),
            ...denied,
          },
        },
      },
      async () => ({ ...queries.facets(), timeZone: api.clock.timeZone, shifts: api.ctx.engineer.shifts.definitions }),
    );

    app.get(
      '/api/inspections/:id',
      {
        onRequest: access.guard('read'),
        schema: {
          tags: ['inspections'], security: secured,
          summary: 'One inspection with findings, review decision and history',
          params: z.object({ id: z.string() }),
          response: { 200: inspectionDetailDto, 404: errorDto, ...denied },
        },
      },
      async (req) => {
        const row = mustGet(req.params.id);
        return { ...toEngineerDto(row), history: historyOf(row) };
      },
    );

    const image = async (id: string) => {
      const row = mustGet(id);
      if (row.inspection.imageRef === null) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no image for inspection ${id} (never stored or pruned by retention)`);
      try {
        return { row, data: await api.ctx.store.images.read(row.inspection.imageRef) };
      } catch (err) {
        throw new LoupeError('LOUPE_ERR_NOT_FOUND', `image of inspection ${id} is gone (pruned by retention)`, { cause: err });
      }
    };

    app.get(
      '/api/inspections/:id/overlay',
      {
        onRequest: access.guard('view'),
        schema: {
          tags: ['inspections'], security: secured,
          summary: 'The frame with heat maps and boxes of the findings drawn on it (JPEG or PNG, as stored)',
          params: z.object({ id: z.string() }),
          querystring: z.object({
            width: z.coerce.number().int().min(16).max(8192).optional().describe('scale down to this width'),
            truth: z.enum(['true', 'false']).default('false').describe('also draw the ground truth (synthetic line only), dashed'),
          }),
          response: { 404: errorDto, 422: errorDto, ...denied },
        },
      },
      async (req, reply) => {
        const { row, data } = await image(req.params.id);
        const out = await renderOverlay(data, row.inspection.findings, row.inspection.truth, { truth: req.query.truth === 'true', width: req.query.width, findings: true });
        return sendImage(reply, out);
      },
    );

    app.get(
      '/api/inspections/:id/thumbnail',
      {
        onRequest: access.guard('view'),
        schema: {
          tags: ['inspections'], security: secured,
          summary: 'A small copy of the frame for tables, with or without the findings drawn on it',
          params: z.object({ id: z.string() }),
          querystring: z.object({
            width: z.coerce.number().int().min(16).max(640).default(160),
            overlay: z.enum(['true', 'false']).default('true'),
          }),
          response: { 404: errorDto, 422: errorDto, ...denied },
        },
      },
      async (req, reply) => {
        const { row, data } = await image(req.params.id);
        const out = await renderOverlay(data, row.inspection.findings, null, { truth: false, width: req.query.width, findings: req.query.overlay === 'true' });
        return sendImage(reply, out);
      },
    );
  };
