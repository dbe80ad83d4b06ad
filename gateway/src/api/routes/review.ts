import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { operatorOf } from '../../auth/guard.js';
import type { Operator } from '../../auth/operator-auth.js';
import { isLoupeError, LoupeError } from '../../errors.js';
import type { Inspection } from '../../inspect/inspection.js';
import type { ApiContext } from '../context.js';
import { errorDto, inspectionDto, toInspectionDto } from '../schemas.js';

/** A screen showing a part as its current one; others skip it. Soft: the store decides who wins. */
export interface Claim {
  inspectionId: string;
  screenId: string;
  operatorId: string;
  name: string;
  until: number;
}

/** Claims lapse unless the screen renews them (it does every few seconds while it shows the part). */
export const CLAIM_TTL_MS = 20_000;

/**
 * Which screen is looking at which part, so two HMIs on one station take
 * different parts instead of racing for the same one. Kept in memory: after
 * a restart screens claim again within seconds. It never guarantees
 * anything: the conditional update in the store does.
 */
export class ReviewClaims extends EventEmitter<{ changed: [] }> {
  private readonly claims = new Map<string, Claim>();

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  /** Claim or renew; returns the other screen's claim when one holds the part. */
  claim(inspectionId: string, op: Operator): Claim | null {
    this.expire();
    const screenId = screenIdOf(op);
    const held = this.claims.get(inspectionId);
    if (held && held.screenId !== screenId) return held;
    // One current part per screen: claiming a new one releases the old.
    let changed = !held;
    for (const c of this.claims.values()) {
      if (c.screenId === screenId && c.inspectionId !== inspectionId) {
        this.claims.delete(c.inspectionId);
        changed = true;
      }
    }
    this.claims.set(inspectionId, { inspectionId, screenId, operatorId: op.user.id, name: op.user.name, until: this.now() + CLAIM_TTL_MS });
    if (changed) this.emit('changed');
    return null;
  }

  release(inspectionId: string, screenId?: string): void {
    const held = this.claims.get(inspectionId);
    if (!held || (screenId !== undefined && held.screenId !== screenId)) return;
    this.claims.delete(inspectionId);
    this.emit('changed');
  }

  list(): Claim[] {
    this.expire();
    return [...this.claims.values()];
  }

  private expire(): void {
    const now = this.now();
    let changed = false;
    for (const [id, c] of this.claims) {
      if (c.until <= now) {
        this.claims.delete(id);
        changed = true;
      }
    }
    if (changed) this.emit('changed');
  }
}

/** A stable, non-secret id of one logged-in screen (derived from its session). */
export function screenIdOf(op: Operator): string {
  return createHash('sha256').update(`screen:${op.session.tokenHash}`).digest('hex').slice(0, 16);
}

export const claimDto = z.object({ inspectionId: z.string(), screenId: z.string(), operatorId: z.string(), name: z.string() });

export const queueItemDto = z.object({
  inspection: inspectionDto,
  /** When the review times out and the safe verdict applies. */
  deadlineAt: z.string().nullable(),
});

export const reviewStationDto = z.object({
  id: z.string(),
  name: z.string(),
  /** Classes an operator can pick on `Defect` (the model's labels without the good one); `other` is always offered too. */
  defectLabels: z.array(z.string()),
  timeoutMs: z.number(),
  safeVerdict: z.enum(['pass', 'fail']),
});

const decisionBody = z.object({
  /** Made by the screen per tap; sending it again (after a lost answer) returns the first result. */
  decisionId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  inspectionId: z.string().min(1).max(64),
  verdict: z.enum(['pass', 'fail']),
  defectClass: z.string().min(1).max(64).nullable().optional(),
  note: z.string().max(500).nullable().optional(),
});

const decisionDto = z.object({
  decisionId: z.string(),
  replay: z.boolean(),
  verdict: z.enum(['pass', 'fail']),
  defectClass: z.string().nullable(),
  note: z.string().nullable(),
  operatorId: z.string().nullable(),
  decidedAt: z.string(),
  inspection: inspectionDto,
});

export function toQueueItem(ctx: ApiContext, i: Inspection) {
  const deadline = ctx.review.deadlineOf(i.id);
  return { inspection: toInspectionDto(i), deadlineAt: deadline === null ? null : new Date(deadline).toISOString() };
}

export function reviewStations(ctx: ApiContext) {
  return [...ctx.stations.values()].map((s) => {
    const m = s.detector.manifest;
    return { id: s.id, name: s.cfg.name ?? s.id, defectLabels: m.labels.filter((l) => l !== m.goodLabel), timeoutMs: s.cfg.review.timeoutMs, safeVerdict: s.cfg.review.safeVerdict };
  });
}

/**
 * The operator's review: the queue, decisions and claims. Every route needs
 * a logged-in, unlocked session; the decision records who made it from the
 * session, never from the request body.
 */
export const reviewRoutes =
  (ctx: ApiContext, claims: ReviewClaims): FastifyPluginAsyncZod =>
  async (app) => {
    const auth = ctx.hmi.auth;
    const denied = { 401: errorDto, 403: errorDto };
    // Refuse before validation, so an anonymous caller learns nothing about the body it should send.
    app.addHook('onRequest', async (req) => {
      operatorOf(auth, req);
    });

    app.get(
      '/api/review/stations',
      { schema: { tags: ['review'], summary: 'Stations an operator can review, with their defect classes and timeouts', response: { 200: z.array(reviewStationDto), ...denied } } },
      async () => reviewStations(ctx),
    );

    app.get(
      '/api/review/queue',
      {
        schema: {
          tags: ['review'],
          summary: 'Parts waiting for an operator, oldest first',
          querystring: z.object({ station: z.string().optional() }),
          response: { 200: z.object({ items: z.array(queueItemDto), claims: z.array(claimDto), serverTime: z.string() }), ...denied },
        },
      },
      async (req) => ({
        items: ctx.review.list(req.query.station).map((i) => toQueueItem(ctx, i)),
        claims: claims.list().map(({ until: _u, ...c }) => c),
        serverTime: new Date().toISOString(),
      }),
    );

    app.post(
      '/api/review/decisions',
      {
        schema: {
          tags: ['review'],
          summary: "Record an operator's verdict: committed with its audit row and uplink message before the answer",
          body: decisionBody,
          response: { 200: decisionDto, 400: errorDto, 404: errorDto, 409: errorDto, ...denied },
        },
      },
      async (req) => {
        const op = operatorOf(auth, req, { activity: true });
        const b = req.body;
        try {
          const { settlement, replay } = ctx.review.decide({
            decisionId: b.decisionId,
            inspectionId: b.inspectionId,
            verdict: b.verdict,
            defectClass: b.defectClass ?? null,
            note: b.note ?? null,
            operatorId: op.user.id,
          });
          claims.release(b.inspectionId);
          const d = settlement.decision;
          return { decisionId: d.id, replay, verdict: d.verdict, defectClass: d.defectClass, note: d.note, operatorId: d.operatorId, decidedAt: d.decidedAt.toISOString(), inspection: toInspectionDto(settlement.inspection) };
        } catch (err) {
          if (isLoupeError(err, 'LOUPE_ERR_REVIEW_ALREADY_DECIDED')) throw alreadyDecided(ctx, b.inspectionId, err);
          throw err;
        }
      },
    );

    app.post(
      '/api/review/claims',
      {
        schema: {
          tags: ['review'],
          summary: 'This screen shows a part now: other screens skip it (renew every few seconds)',
          body: z.object({ inspectionId: z.string().min(1).max(64) }),
          response: { 200: z.object({ claimed: z.boolean(), heldBy: claimDto.nullable() }), 404: errorDto, ...denied },
        },
      },
      async (req) => {
        const op = operatorOf(auth, req);
        if (ctx.review.deadlineOf(req.body.inspectionId) === null) throw new LoupeError('LOUPE_ERR_REVIEW_NOT_PENDING', `part ${req.body.inspectionId} is not waiting for review`);
        const held = claims.claim(req.body.inspectionId, op);
        return { claimed: held === null, heldBy: held === null ? null : { inspectionId: held.inspectionId, screenId: held.screenId, operatorId: held.operatorId, name: held.name } };
      },
    );

    app.delete(
      '/api/review/claims/:inspectionId',
      { schema: { tags: ['review'], summary: 'This screen no longer shows the part', params: z.object({ inspectionId: z.string() }) } },
      async (req, reply) => {
        const op = operatorOf(auth, req);
        claims.release(req.params.inspectionId, screenIdOf(op));
        return reply.code(204).send();
      },
    );
  };

/** The second screen's answer: who decided the part, how, and when, so it can say so plainly. */
function alreadyDecided(ctx: ApiContext, inspectionId: string, cause: LoupeError): LoupeError {
  const d = ctx.store.decisions.forInspection(inspectionId);
  const i = ctx.store.inspections.get(inspectionId);
  const name = d?.operatorId ? (ctx.hmi.auth.nameOf(d.operatorId) ?? d.operatorId) : null;
  return new LoupeError('LOUPE_ERR_REVIEW_ALREADY_DECIDED', cause.message, {
    cause,
    details: {
      inspectionId,
      partId: i?.partId ?? null,
      decidedBy: d?.decidedBy ?? null,
      operatorId: d?.operatorId ?? null,
      operatorName: name,
      verdict: d?.verdict ?? i?.verdict ?? null,
      defectClass: d?.defectClass ?? null,
      decidedAt: d?.decidedAt.toISOString() ?? null,
    },
  });
}
