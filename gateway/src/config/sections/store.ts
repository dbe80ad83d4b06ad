import { z } from 'zod';

export const storeSchema = z.strictObject({
  /** SQLite file; relative to `gateway.dataDir` unless absolute. Default loupe.db. */
  dbFile: z.string().min(1).default('loupe.db'),
  /** Image folder; relative to `gateway.dataDir` unless absolute. Default images. */
  imagesDir: z.string().min(1).default('images'),
  /**
   * SQLite durability: `full` survives power loss, `normal` only process crashes
   * (faster on slow disks). Default full.
   */
  synchronous: z.enum(['full', 'normal']).default('full'),
  /** fsync each image before its inspection row commits. Default true. */
  fsyncImages: z.boolean().default(true),
  /** Images are pruned, oldest first, when they use more than this. Default 2048 MB. */
  maxDiskMb: z.number().int().min(1).max(10_000_000).default(2048),
  /** Images older than this are pruned. Default 30 days. */
  maxAgeDays: z.number().min(0.001).max(3650).default(30),
  /** Stop storing images when the file system has less free space than this. Default 256 MB. */
  minFreeDiskMb: z.number().int().min(0).default(256),
  /** How often retention runs. Default 60000 ms. */
  retentionIntervalMs: z.number().int().min(1000).default(60_000),
});

export type StoreConfig = z.infer<typeof storeSchema>;
