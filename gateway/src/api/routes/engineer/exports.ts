import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LoupeError } from '../../../errors.js';
import { exportCsv, exportNdjson, exportZip, type StartedExport } from '../../../export/exports.js';
import type { InspectionFilter } from '../../../store/queries.js';
import { errorDto } from '../../schemas.js';
import { secured } from './dto.js';
import type { EngineerApi } from './engineer-api.js';
import { describeFilter, filterQuery, toFilter } from './filter-query.js';

const order = z.enum(['asc', 'desc']).default('asc').describe('oldest first (default) or newest first');
const csvOptions = {
  bom: z.enum(['true', 'false']).default('true').describe('start with a UTF-8 byte order mark (Excel needs it to read non-ASCII text right)'),
  delimiter: z.enum(['comma', 'semicolon']).default('comma').describe('semicolon for Excel where the decimal mark is a comma'),
  guardFormulas: z
    .enum(['true', 'false'])
    .default('true')
    .describe("prefix text cells starting with = + - @ with ' so spreadsheets do not run them as formulas; false for exact text"),
};
const responses = { 400: errorDto, 401: errorDto, 403: errorDto, 429: errorDto };

/**
 * Exports of the inspection log for a filter. They stream from one snapshot
 * of the log: the download starts at once, memory stays flat, and
 * `x-loupe-export-rows` says up front how many rows will come (for progress).
 */
export const exportRoutes =
  (api: EngineerApi): FastifyPluginAsyncZod =>
  async (app) => {
    const { access, clock, exportSource } = api;
    const maxRunning = api.ctx.engineer.maxConcurrentExports;
    let running = 0;

    /** Start an export if a slot is free; the slot is released when its stream closes (done, failed or abandoned). */
    const start = (reply: FastifyReply, begin: () => StartedExport): StartedExport => {
      if (running >= maxRunning) {
        reply.header('retry-after', '30');
        throw new LoupeError('LOUPE_ERR_EXPORT_BUSY', `${running} exports are running (http.maxConcurrentExports ${maxRunning}); try again in a moment`);
      }
      const e = begin();
      running++;
      e.stream.once('close', () => running--);
      return e;
    };

    const send = (reply: FastifyReply, e: StartedExport, type: string, ext: string, filter: InspectionFilter, who: string | undefined) => {
      const stamp = clock.iso(Date.now()).slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
      api.ctx.log.info({ component: 'export', format: ext, rows: e.rows, by: who, filter: describeFilter(filter, clock) }, `export of ${e.rows} inspections as ${ext} started`);
      reply.header('content-disposition', `attachment; filename="loupe-inspections-${stamp}.${ext}"`);
      reply.header('x-loupe-export-rows', String(e.rows));
      reply.header('cache-control', 'no-store');
      return reply.type(type).send(e.stream);
    };

    app.get(
      '/api/exports/inspections.csv',
      {
        onRequest: access.guard('read'),
        schema: {
          tags: ['exports'], security: secured,
          summary: 'Inspections as CSV (RFC 4180, CRLF; times ISO 8601 with the plant offset)',
          querystring: filterQuery.extend({ order, ...csvOptions }),
          produces: ['text/csv'],
          response: responses,
        },
      },
      async (req, reply) => {
        const q = req.query;
        const filter = toFilter(q, clock);
        const e = start(reply, () => exportCsv(exportSource, filter, { order: q.order, bom: q.bom === 'true', delimiter: q.delimiter === 'semicolon' ? ';' : ',', guardFormulas: q.guardFormulas === 'true' }));
        return send(reply, e, 'text/csv; charset=utf-8', 'csv', filter, req.principal?.id);
      },
    );

    app.get(
      '/api/exports/inspections.ndjson',
      {
        onRequest: access.guard('read'),
        schema: { tags: ['exports'], security: secured, summary: 'Inspections as NDJSON: one JSON object per line', querystring: filterQuery.extend({ order }), produces: ['application/x-ndjson'], response: responses },
      },
      async (req, reply) => {
        const filter = toFilter(req.query, clock);
        return send(reply, start(reply, () => exportNdjson(exportSource, filter, { order: req.query.order })), 'application/x-ndjson; charset=utf-8', 'ndjson', filter, req.principal?.id);
      },
    );

    app.get(
      '/api/exports/inspections.zip',
      {
        onRequest: access.guard('read'),
        schema: {
          tags: ['exports'], security: secured,
          summary: 'Images + CSV for a filter, as ZIP (images/<day>/<station>/<id>.<ext>, inspections.csv, export.json)',
          description: 'At most 100,000 inspections per ZIP (413 LOUPE_ERR_EXPORT_TOO_LARGE beyond): the ZIP directory stays in memory until the end.',
          querystring: filterQuery.extend({ order, ...csvOptions }),
          produces: ['application/zip'],
          response: { ...responses, 413: errorDto },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const filter = toFilter(q, clock);
        const e = start(reply, () => exportZip(exportSource, filter, {
          order: q.order,
          bom: q.bom === 'true',
          delimiter: q.delimiter === 'semicolon' ? ';' : ',',
          guardFormulas: q.guardFormulas === 'true',
          description: { filter: describeFilter(filter, clock), exportedBy: req.principal?.id ?? null },
        }));
        return send(reply, e, 'application/zip', 'zip', filter, req.principal?.id);
      },
    );
  };
