import type { Logger } from 'pino';
import type { StoreConfig } from '../config/sections/store.js';
import { openDatabase, type Db } from './database.js';
import { ImageStore } from './images.js';
import { InspectionRepo } from './inspections.js';
import { Outbox } from './outbox.js';
import { ReviewDecisionRepo } from './review-decisions.js';

/** The gateway's persistent state: one SQLite file and one image folder. */
export interface Store {
  db: Db;
  inspections: InspectionRepo;
  images: ImageStore;
  outbox: Outbox;
  decisions: ReviewDecisionRepo;
  close(): void;
}

export function openStore(cfg: StoreConfig, log: Logger): Store {
  const db = openDatabase(cfg.dbFile, { synchronous: cfg.synchronous, log });
  return {
    db,
    inspections: new InspectionRepo(db),
    images: new ImageStore(cfg.imagesDir, { fsync: cfg.fsyncImages, minFreeBytes: cfg.minFreeDiskMb * 1024 * 1024 }),
    outbox: new Outbox(db),
    decisions: new ReviewDecisionRepo(db),
    close() {
      // Fold the WAL back so the file is self-contained for backups.
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}
