import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiAccess, Principal } from '../../auth/api-access.js';
import { LoupeError } from '../../errors.js';
import type { PackageState, StationModelState } from '../../model-registry/lifecycle.js';
import type { ModelEvent, ModelRef } from '../../store/model-registry.js';
import type { ShadowRun } from '../../store/shadow-results.js';
import type { ApiContext } from '../context.js';
import { errorDto } from '../schemas.js';

const secured: { [scheme: string]: string[] }[] = [{ apiToken: [] }, { session: [] }];
const denied = { 401: errorDto, 403: errorDto };

const refDto = z.object({
  source: z.enum(['registry', 'config']).describe('registry: a registered package; config: the station\'s configured model'),
  modelId: z.string().nullable(),
  version: z.string().nullable(),
  sha256: z.string().nullable(),
});

const packageDto = z.object({
  modelId: z.string(),
  version: z.string(),
  sha256: z.string().describe('of model.onnx'),
  bytes: z.number(),
  source: z.enum(['api', 'mqtt']),
  addedBy: z.string(),
  addedAt: z.string(),
  parent: z.string().nullable(),
  checks: z.record(z.string(), z.unknown()),
  activeOn: z.array(z.string()),
  shadowOn: z.array(z.string()),
});

const stationDto = z.object({
  station: z.string(),
  active: refDto,
  configuredPath: z.string(),
  rollbackTo: refDto.nullable(),
  inControl: z.boolean().describe('false while a PLC recipe runs another model'),
  problem: z.string().nullable(),
  shadow: z
    .object({ runId: z.number(), modelId: z.string(), version: z.string(), startedBy: z.string(), startedAt: z.string(), compared: z.number(), skipped: z.number(), failed: z.number() })
    .nullable(),
});

const eventDto = z.object({
  seq: z.number(),
  at: z.string(),
  action: z.string(),
  model: refDto.nullable(),
  previous: refDto.nullable(),
  actor: z.string(),
  reason: z.string(),
  detail: z.record(z.string(), z.unknown()).nullable(),
});

const runDto = z.object({
  id: z.number(),
  station: z.string(),
  modelId: z.string(),
  version: z.string(),
  sha256: z.string(),
  passBelow: z.number(),
  failAtOrAbove: z.number(),
  startedBy: z.string(),
  startedAt: z.string(),
  stoppedBy: z.string().nullable(),
  stoppedAt: z.string().nullable(),
});

const outcomeDto = z.object({ correct: z.number(), escapes: z.number(), falseRejects: z.number(), reviews: z.number(), cost: z.number() });
const verdictRow = z.object({ pass: z.number(), fail: z.number(), review: z.number() });
const reportDto = z.object({
  runId: z.number(),
  station: z.string(),
  candidate: z.object({ modelId: z.string(), version: z.string(), sha256: z.string(), passBelow: z.number(), failAtOrAbove: z.number() }),
  startedBy: z.string(),
  startedAt: z.string(),
  stoppedAt: z.string().nullable(),
  running: z.boolean(),
  parts: z.number(),
  skipped: z.number(),
  failed: z.number(),
  agreement: z.object({ same: z.number(), share: z.number().nullable(), matrix: z.object({ pass: verdictRow, fail: verdictRow, review: verdictRow }) }),
  confirmed: z.object({ parts: z.number(), active: outcomeDto, candidate: outcomeDto }),
  gate: z.object({ ok: z.boolean(), reasons: z.array(z.string()) }),
});

const reason = z.string().trim().min(3).max(500).describe('why: recorded in the model history with your id');
const stationParam = z.object({ station: z.string() });
const packagePick = z.object({ modelId: z.string().min(1).max(100), version: z.string().min(1).max(64) });

/**
 * The engineer's model actions (docs/model-lifecycle.md): upload a package,
 * list versions, start and stop a shadow run, read its report, promote,
 * roll back. Reads need the engineer role (or any token); every write is one
 * action, needs an engineer session or an admin token, and is recorded in
 * the model history with who and why (and in the API audit trail).
 */
export const modelRoutes =
  (ctx: ApiContext, access: ApiAccess): FastifyPluginAsyncZod =>
  async (app) => {
    const models = ctx.models.lifecycle;
    const actor = (p: Principal | null): string => {
      if (p === null) throw new LoupeError('LOUPE_ERR_AUTH_REQUIRED');
      return p.id;
    };

    app.get(
      '/api/models',
      { onRequest: access.guard('read'), schema: { tags: ['models'], security: secured, summary: 'Registered model packages, newest first, with the stations that run or shadow them', response: { 200: z.array(packageDto), ...denied } } },
      async () => models.packages().map(toPackageDto),
    );

    app.post(
      '/api/models/:station/packages',
      {
        onRequest: access.guard('write'),
        bodyLimit: Math.ceil(ctx.models.maxPackageBytes * 1.4) + 1024 * 1024,
        schema: {
          tags: ['models'],
          security: secured,
          summary: 'Upload a model package for a station: verified (hash, ONNX Runtime, tensors, a test inference) before it is listed',
          params: stationParam,
          body: z.object({
            manifest: z.record(z.string(), z.unknown()).describe('model.json'),
            onnx: z.string().min(1).describe('model.onnx, base64'),
            sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).describe('sha256 of model.onnx, hex: the package is refused if the bytes differ'),
            card: z.string().max(1_000_000).nullable().optional().describe('MODEL_CARD.md'),
            reason: reason.optional(),
          }),
          response: { 200: packageDto, 201: packageDto, 400: errorDto, 404: errorDto, 409: errorDto, 413: errorDto, 422: errorDto, ...denied },
        },
      },
      async (req, reply) => {
        const b = req.body;
        if (!/^[A-Za-z0-9+/=\s]*$/.test(b.onnx)) throw new LoupeError('LOUPE_ERR_API_BAD_REQUEST', 'onnx: expected base64');
        const r = await models.register({
          manifest: b.manifest,
          onnx: Buffer.from(b.onnx, 'base64'),
          card: b.card ?? null,
          sha256: b.sha256.toLowerCase(),
          source: 'api',
          actor: actor(req.principal),
          station: req.params.station,
          reason: b.reason ?? 'uploaded',
        });
        const state = models.packages().find((p) => p.modelId === r.package.modelId && p.version === r.package.version);
        return reply.code(r.created ? 201 : 200).send(toPackageDto(state ?? { ...r.package, activeOn: [], shadowOn: [] }));
      },
    );

    app.get(
      '/api/models/:station',
      { onRequest: access.guard('read'), schema: { tags: ['models'], security: secured, summary: 'The model a station runs, what a rollback returns to, its shadow run', params: stationParam, response: { 200: stationDto, 404: errorDto, ...denied } } },
      async (req) => toStationDto(models.state(req.params.station)),
    );

    app.get(
      '/api/models/:station/history',
      {
        onRequest: access.guard('read'),
        schema: {
          tags: ['models'],
          security: secured,
          summary: 'Everything done to the station\'s models, newest first: registrations, refusals, shadow runs, promotions, rollbacks',
          params: stationParam,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), before: z.coerce.number().int().min(1).optional() }),
          response: { 200: z.array(eventDto), 404: errorDto, ...denied },
        },
      },
      async (req) => models.history(req.params.station, { limit: req.query.limit, ...(req.query.before ? { before: req.query.before } : {}) }).map(toEventDto),
    );

    app.post(
      '/api/models/:station/shadow',
      {
        onRequest: access.guard('write'),
        schema: {
          tags: ['models'],
          security: secured,
          summary: 'Start running a registered package in shadow beside the active model (never affects a verdict)',
          params: stationParam,
          body: packagePick.extend({ reason }),
          response: { 201: runDto, 404: errorDto, 409: errorDto, ...denied },
        },
      },
      async (req, reply) => reply.code(201).send(toRunDto(await models.startShadow(req.params.station, req.body.modelId, req.body.version, { actor: actor(req.principal), reason: req.body.reason }))),
    );

    app.post(
      '/api/models/:station/shadow/stop',
      {
        onRequest: access.guard('write'),
        schema: { tags: ['models'], security: secured, summary: 'Stop the station\'s shadow run (its results stay for the report)', params: stationParam, body: z.object({ reason }), response: { 200: runDto, 404: errorDto, 409: errorDto, ...denied } },
      },
      async (req) => toRunDto(await models.stopShadow(req.params.station, { actor: actor(req.principal), reason: req.body.reason })),
    );

    app.get(
      '/api/models/:station/shadow/report',
      {
        onRequest: access.guard('read'),
        schema: {
          tags: ['models'],
          security: secured,
          summary: 'Shadow report: agreement with the active model and both models against operator-confirmed outcomes, and whether promotion would pass',
          params: stationParam,
          querystring: packagePick.partial(),
          response: { 200: reportDto, 400: errorDto, 404: errorDto, ...denied },
        },
      },
      async (req) => {
        const { modelId, version } = req.query;
        if ((modelId === undefined) !== (version === undefined)) throw new LoupeError('LOUPE_ERR_API_BAD_REQUEST', 'give both modelId and version, or neither (the running or newest run)');
        return models.report(req.params.station, modelId !== undefined && version !== undefined ? { modelId, version } : undefined);
      },
    );

    app.post(
      '/api/models/:station/promote',
      {
        onRequest: access.guard('write'),
        schema: {
          tags: ['models'],
          security: secured,
          summary: 'Make a registered package the station\'s model from the next part on; needs a shadow report that passes unless force',
          params: stationParam,
          body: packagePick.extend({ reason, force: z.boolean().default(false).describe('promote although the shadow gate does not pass (recorded)') }),
          response: { 200: stationDto, 404: errorDto, 409: errorDto, ...denied },
        },
      },
      async (req) => {
        await models.promote(req.params.station, req.body.modelId, req.body.version, { actor: actor(req.principal), reason: req.body.reason, force: req.body.force });
        return toStationDto(models.state(req.params.station));
      },
    );

    app.post(
      '/api/models/:station/rollback',
      {
        onRequest: access.guard('write'),
        schema: { tags: ['models'], security: secured, summary: 'Return the station to the model it ran before its current promotion, from the next part on', params: stationParam, body: z.object({ reason }), response: { 200: stationDto, 404: errorDto, 409: errorDto, ...denied } },
      },
      async (req) => {
        await models.rollback(req.params.station, { actor: actor(req.principal), reason: req.body.reason });
        return toStationDto(models.state(req.params.station));
      },
    );
  };

function toPackageDto(p: PackageState): z.infer<typeof packageDto> {
  return { modelId: p.modelId, version: p.version, sha256: p.sha256, bytes: p.bytes, source: p.source, addedBy: p.addedBy, addedAt: p.addedAt.toISOString(), parent: p.parent, checks: p.checks, activeOn: p.activeOn, shadowOn: p.shadowOn };
}

function toRef(r: ModelRef): z.infer<typeof refDto> {
  return { source: r.source, modelId: r.modelId, version: r.version, sha256: r.sha256 };
}

function toStationDto(s: StationModelState): z.infer<typeof stationDto> {
  return { ...s, active: toRef(s.active), rollbackTo: s.rollbackTo ? toRef(s.rollbackTo) : null };
}

function toEventDto(e: ModelEvent): z.infer<typeof eventDto> {
  return { seq: e.seq, at: e.at.toISOString(), action: e.action, model: e.model ? toRef(e.model) : null, previous: e.previous ? toRef(e.previous) : null, actor: e.actor, reason: e.reason, detail: e.detail };
}

function toRunDto(r: ShadowRun): z.infer<typeof runDto> {
  return {
    id: r.id,
    station: r.station,
    modelId: r.modelId,
    version: r.version,
    sha256: r.sha256,
    passBelow: r.passBelow,
    failAtOrAbove: r.failAtOrAbove,
    startedBy: r.startedBy,
    startedAt: r.startedAt.toISOString(),
    stoppedBy: r.stoppedBy,
    stoppedAt: r.stoppedAt?.toISOString() ?? null,
  };
}
