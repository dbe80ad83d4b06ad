import type { ApiAccess } from '../../../auth/api-access.js';
import type { ApiTokens } from '../../../auth/api-tokens.js';
import type { ExportSource } from '../../../export/exports.js';
import { Bucketer } from '../../../stats/buckets.js';
import { ZonedClock } from '../../../stats/zoned-clock.js';
import type { ApiTokenRepo } from '../../../store/api-tokens.js';
import { InspectionQueries } from '../../../store/queries.js';
import type { ApiContext } from '../../context.js';

/** What the engineer routes share: the queries, the plant's clock and shifts, access control. */
export interface EngineerApi {
  ctx: ApiContext;
  queries: InspectionQueries;
  clock: ZonedClock;
  bucketer: Bucketer;
  access: ApiAccess;
  tokens: ApiTokens;
  tokenRepo: ApiTokenRepo;
  exportSource: ExportSource;
}

export function engineerApi(ctx: ApiContext, access: ApiAccess, tokens: ApiTokens, tokenRepo: ApiTokenRepo): EngineerApi {
  const clock = new ZonedClock(ctx.engineer.shifts.timeZone);
  const bucketer = new Bucketer(clock, ctx.engineer.shifts.definitions);
  return {
    ctx,
    queries: new InspectionQueries(ctx.store.db),
    clock,
    bucketer,
    access,
    tokens,
    tokenRepo,
    exportSource: { dbFile: ctx.store.db.name, images: ctx.store.images, clock, bucketer, log: ctx.log.child({ component: 'export' }) },
  };
}
