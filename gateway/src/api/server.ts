import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiContext } from './context.js';
import { installErrorHandler } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { inspectionRoutes } from './routes/inspections.js';
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

  await app.register(fastifySwagger, {
    openapi: { info: { title: 'Loupe gateway API', version: '1' } },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes(ctx));
  await app.register(stationRoutes(ctx));
  await app.register(inspectionRoutes(ctx));
  return app;
}
