import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confusion } from '../../../stats/confusion.js';
import { escapeFigures } from '../../../stats/escape-rate.js';
import { pareto } from '../../../stats/pareto.js';
import { pChart } from '../../../stats/p-chart.js';
import { ratesOf } from '../../../stats/rates.js';
import { tallyBy } from '../../../stats/series.js';
import { tallyOf } from '../../../stats/tally.js';
import { errorDto } from '../../schemas.js';
import { bucketDto, estimateDto, ratesDto, secured, slipDto, tallyDto, toBucketDto } from './dto.js';
import type { EngineerApi } from './engineer-api.js';
import { describeFilter, filterQuery, toFilter } from './filter-query.js';

const confidence = z.coerce.number().min(0.5).max(0.9999).default(0.95).describe('confidence level of the intervals');
const by = z.enum(['hour', 'shift', 'day']).default('hour').describe("local hours, shifts or days in the plant's time zone");
const responses = { 400: errorDto, 401: errorDto, 403: errorDto };
const context = { filter: z.record(z.string(), z.unknown()), timeZone: z.string() };

/**
 * Statistics over the inspections a filter selects. The definitions are in
 * gateway/src/stats/README.md; every proportion comes as x of n with an exact interval.
 */
export const statsRoutes =
  (api: EngineerApi): FastifyPluginAsyncZod =>
  async (app) => {
    const { access, clock, queries, bucketer } = api;
    const guard = access.guard('read');

    app.get(
      '/api/stats/summary',
      {
        onRequest: guard,
        schema: {
          tags: ['stats'], security: secured,
          summary: 'Counts and headline rates: yield, first-pass yield, review, audit, override and error rates',
          querystring: filterQuery.extend({ confidence }),
          response: { 200: z.object({ ...context, counts: tallyDto, rates: ratesDto }), ...responses },
        },
      },
      async (req) => {
        const filter = toFilter(req.query, clock);
        const t = tallyOf(queries.outcomeCounts(filter));
        return { filter: describeFilter(filter, clock), timeZone: clock.timeZone, counts: t, rates: ratesOf(t, req.query.confidence) };
      },
    );

    app.get(
      '/api/stats/yield',
      {
        onRequest: guard,
        schema: {
          tags: ['stats'], security: secured,
          summary: 'Yield and first-pass yield per local hour, shift or day',
          querystring: filterQuery.extend({ by, confidence }),
          response: {
            200: z.object({ ...context, by, buckets: z.array(z.object({ bucket: bucketDto, counts: tallyDto, rates: ratesDto })) }),
            ...responses,
          },
        },
      },
      async (req) => {
        const filter = toFilter(req.query, clock);
        const series = tallyBy(queries.outcomeCounts(filter), req.query.by, bucketer);
        return {
          filter: describeFilter(filter, clock),
          timeZone: clock.timeZone,
          by: req.query.by,
          buckets: series.map((s) => ({ bucket: toBucketDto(s.bucket, clock), counts: s.tally, rates: ratesOf(s.tally, req.query.confidence) })),
        };
      },
    );

    app.get(
      '/api/stats/pareto',
      {
        onRequest: guard,
        schema: {
          tags: ['stats'], security: secured,
          summary: 'Failed parts by defect class, biggest first, with cumulative share',
          querystring: filterQuery,
          response: {
            200: z.object({
              ...context,
              total: z.number().int(),
              bars: z.array(z.object({ defectClass: z.string(), count: z.number().int(), share: z.number(), cumulativeShare: z.number() })),
            }),
            ...responses,
          },
        },
      },
      async (req) => {
        const filter = toFilter(req.query, clock);
        return { filter: describeFilter(filter, clock), timeZone: clock.timeZone, ...pareto(queries.failsByClass(filter)) };
      },
    );

    app.get(
      '/api/stats/confusion',
      {
        onRequest: guard,
        schema: {
          tags: ['stats'], security: secured,
          summary: 'Model against person on parts a person judged: class confusion matrix, precision and recall per class',
          description:
            'sample=all: every part a person judged (uncertain parts and audit samples); sample=audit: audit samples only, a random sample of ' +
            "confident verdicts; sample=uncertain: the model's uncertain band only. Parts whose review timed out are not judged and left out.",
          querystring: filterQuery.extend({ sample: z.enum(['all', 'audit', 'uncertain']).default('all') }),
          response: {
            200: z.object({
              ...context,
              sample: z.enum(['all', 'audit', 'uncertain']),
              labels: z.array(z.string()),
              matrix: z.array(z.array(z.number().int())).describe('matrix[model][person], axes in the order of labels'),
              perClass: z.array(
                z.object({
                  label: z.string(),
                  truePositives: z.number().int(),
                  predicted: z.number().int(),
                  actual: z.number().int(),
                  precision: z.number().nullable(),
                  recall: z.number().nullable(),
                  f1: z.number().nullable(),
                }),
              ),
              total: z.number().int(),
              agreement: z.number().nullable(),
              verdicts: z.array(z.object({ model: z.enum(['pass', 'fail', 'review']), person: z.enum(['pass', 'fail']), n: z.number().int() })),
            }),
            ...responses,
          },
        },
      },
      async (req) => {
        const filter = toFilter(req.query, clock);
        const sample = req.query.sample;
        const pairs = queries.reviewedPairs(filter).filter((p) => sample === 'all' || (sample === 'audit' ? p.audit : p.modelVerdict === 'review'));
        return { filter: describeFilter(filter, clock), timeZone: clock.timeZone, sample, ...confusion(pairs) };
      },
    );

    app.get(
      '/api/stats/escapes',
      {
        onRequest: guard,
        schema: {
          tags: ['stats'], security: secured,
          summary: 'Estimated escape rate (defective parts passed) and false-reject rate, from audit samples, with exact intervals',
          querystring: filterQuery.extend({ confidence }),
          response: {
            200: z.object({
              ...context,
              escapes: slipDto.extend({ shipped: z.number().int(), perShipped: estimateDto }),
              falseRejects: slipDto,
            }),
            ...responses,
          },
        },
      },
      async (req) => {
        const filter = toFilter(req.query, clock);
        return { filter: describeFilter(filter, clock), timeZone: clock.timeZone, ...escapeFigures(tallyOf(queries.outcomeCounts(filter)), req.query.confidence) };
      },
    );

    app.get(
      '/api/stats/p-chart',
      {
        onRequest: guard,
        schema: {
          tags: ['stats'], security: secured,
          summary: 'p-chart of the defect fraction per hour, shift or day, with 3-sigma limits and out-of-control flags',
          querystring: filterQuery.extend({ by, runLength: z.coerce.number().int().min(5).max(20).default(8).describe('points in a row on one side of the centre line that count as a run') }),
          response: {
            200: z.object({
              ...context,
              by,
              centerLine: z.number().nullable(),
              runLength: z.number().int(),
              outOfControl: z.number().int(),
              points: z.array(
                z.object({
                  bucket: bucketDto,
                  n: z.number().int(),
                  defective: z.number().int(),
                  p: z.number(),
                  ucl: z.number(),
                  lcl: z.number(),
                  flags: z.array(z.enum(['above-ucl', 'below-lcl', 'run-above', 'run-below'])),
                  smallSample: z.boolean(),
                }),
              ),
            }),
            ...responses,
          },
        },
      },
      async (req) => {
        const filter = toFilter(req.query, clock);
        const series = tallyBy(queries.outcomeCounts(filter), req.query.by, bucketer);
        const chart = pChart(
          series.map((s) => ({ bucket: s.bucket, n: s.tally.passed + s.tally.failed, defective: s.tally.failed })),
          req.query.runLength,
        );
        return {
          filter: describeFilter(filter, clock),
          timeZone: clock.timeZone,
          by: req.query.by,
          ...chart,
          points: chart.points.map((p) => ({ ...p, bucket: toBucketDto(p.bucket, clock) })),
        };
      },
    );
  };

