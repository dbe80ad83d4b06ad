import { z } from 'zod';

export const httpSchema = z.strictObject({
  /** Address the HMI and API listen on. 0.0.0.0 to serve the plant network. Default 127.0.0.1. */
  host: z.string().min(1).default('127.0.0.1'),
  /** TCP port of the HMI and API (0 picks a free one). Default 8080. */
  port: z.number().int().min(0).max(65_535).default(8080),
  /** Exports (CSV, NDJSON, ZIP) streaming at once; more get 429 with Retry-After, so downloads cannot starve the line of CPU and disk. Default 2. */
  maxConcurrentExports: z.number().int().min(1).max(16).default(2),
});

export type HttpConfig = z.infer<typeof httpSchema>;
