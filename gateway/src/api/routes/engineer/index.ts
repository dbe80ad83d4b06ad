import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { dashboardPage } from './dashboard-page.js';
import type { EngineerApi } from './engineer-api.js';
import { exportRoutes } from './exports.js';
import { engineerInspectionRoutes } from './inspections.js';
import { statsRoutes } from './stats.js';
import { tokenRoutes } from './tokens.js';

export { engineerApi, type EngineerApi } from './engineer-api.js';

/** Everything a quality engineer (or a script with an API token) reads: the log, exports, statistics, tokens. */
export const engineerRoutes =
  (api: EngineerApi): FastifyPluginAsyncZod =>
  async (app) => {
    await app.register(engineerInspectionRoutes(api));
    await app.register(exportRoutes(api));
    await app.register(statsRoutes(api));
    await app.register(tokenRoutes(api));
    await app.register(dashboardPage(api.ctx));
  };
