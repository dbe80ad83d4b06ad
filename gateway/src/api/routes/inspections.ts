import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiAccess } from '../../auth/api-access.js';
import { LoupeError } from '../../errors.js';
import type { ApiContext } from '../context.js';
import { errorDto } from '../schemas.js';

const MIME: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', bmp: 'image/bmp', tif: 'image/tiff', webp: 'image/webp', bin: 'application/octet-stream' };

/**
 * A part's frame as captured. The listing and the single inspection are in
 * routes/engineer/ (one listing with every filter); operators on the HMI see
 * images too, so this needs any login or token.
 */
export const inspectionRoutes =
  (ctx: ApiContext, access: ApiAccess): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/api/inspections/:id/image',
      {
        onRequest: access.guard('view'),
        schema: {
          tags: ['inspections'],
          summary: 'The frame as captured (JPEG, PNG, ...)',
          params: z.object({ id: z.string() }),
          response: { 401: errorDto, 403: errorDto, 404: errorDto },
        },
      },
      async (req, reply) => {
        const i = ctx.store.inspections.get(req.params.id);
        if (!i?.imageRef) throw new LoupeError('LOUPE_ERR_NOT_FOUND', `no image for inspection ${req.params.id} (never stored or pruned by retention)`);
        const ext = i.imageRef.split('.').pop() ?? 'bin';
        const raw: FastifyReply = reply;
        raw.header('cache-control', 'private, max-age=86400, immutable');
        return raw.type(MIME[ext] ?? 'application/octet-stream').send(await ctx.store.images.read(i.imageRef));
      },
    );
  };
