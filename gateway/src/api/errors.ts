import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isLoupeError } from '../errors.js';

/** Stable error bodies: `{ code, message, details? }`, the code from the one error table. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      return reply.code(400).send({
        code: 'LOUPE_ERR_API_BAD_REQUEST',
        message: `invalid ${err.validationContext ?? 'request'}`,
        details: { issues: err.validation.map((v) => ({ path: v.instancePath, message: v.message })) },
      });
    }
    if (isLoupeError(err)) {
      if (err.status >= 500) req.log.error({ err }, err.message);
      return reply.code(err.status).send({ code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
    }
    if (typeof err.statusCode === 'number' && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ code: 'LOUPE_ERR_API_BAD_REQUEST', message: err.message });
    }
    req.log.error({ err }, 'unhandled API error');
    return reply.code(500).send({ code: 'LOUPE_ERR_INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ code: 'LOUPE_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url}` }));
}
