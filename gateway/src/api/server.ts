import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { ApiAccess } from '../auth/api-access.js';
import { ApiTokens } from '../auth/api-tokens.js';
import { ApiTokenRepo } from '../store/api-tokens.js';
import type { ApiContext } from './context.js';
import { installErrorHandler } from './errors.js';
import { hmiStatic } from './hmi-static.js';
import { authRoutes } from './routes/auth.js';
import { engineerApi, engineerRoutes } from './routes/engineer/index.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { inspectionRoutes } from './routes/inspections.js';
import { modelRoutes } from './routes/models.js';
import { ReviewClaims, reviewRoutes } from './routes/review.js';
import { stationRoutes } from './routes/stations.js';

/** The gateway's HTTP face: health, metrics, the engineer API and (later) the HMI. */
export async function buildServer(ctx: ApiContext): Promise<FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>> {
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would drown the log at HMI polling rates; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Trigger calls wait for a whole inspection; keep the connection open that long.
    requestTimeout: 30_000,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);

  // Sessions are read by the API access guard as well as by the HMI routes: parse cookies first.
  await app.register(fastifyCookie);
  const tokenRepo = new ApiTokenRepo(ctx.store.db);
  const tokens = new ApiTokens({ repo: tokenRepo, log: ctx.log.child({ component: 'api-tokens' }) });
  const access = new ApiAccess({ tokens, auth: ctx.hmi.auth, repo: tokenRepo, log: ctx.log.child({ component: 'api-access' }) });
  access.install(app);

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Loupe gateway API', version: '1' },
      components: {
        securitySchemes: {
          apiToken: { type: 'http', scheme: 'bearer', description: 'API token (POST /api/tokens), sent as Authorization: Bearer <token>' },
          session: { type: 'apiKey', in: 'cookie', name: 'loupe_session', description: 'HMI login (POST /api/auth/login)' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  // The API's description is for people and scripts that may use it: it needs a login or a token too.
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs', uiHooks: { onRequest: access.guard('read') } });
  app.get('/api/openapi.json', { onRequest: access.guard('read'), schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes(ctx));
  await app.register(stationRoutes(ctx, access));
  await app.register(inspectionRoutes(ctx, access));
  await app.register(engineerRoutes(engineerApi(ctx, access, tokens, tokenRepo)));
  await app.register(modelRoutes(ctx, access));

  // The operator HMI: login, review, live events and the page itself.
  const claims = new ReviewClaims();
  await app.register(authRoutes(ctx));
  await app.register(reviewRoutes(ctx, claims));
  await app.register(eventRoutes(ctx, claims));
  await app.register(hmiStatic(ctx));
  return app;
}
