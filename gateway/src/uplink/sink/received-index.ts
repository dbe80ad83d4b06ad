import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { LoupeError } from '../../errors.js';

export type ImageState = 'stored' | 'pending' | 'missing';
export type Split = 'train' | 'val' | 'test';

/** One correction the sink accepted. */
export interface ReceivedCorrection {
  correctionId: string;
  receivedAt: number;
  site: string;
  line: string;
  gatewayId: string;
  station: string;
  partId: string;
  inspectionId: string;
  decidedAt: string;
  modelId: string;
  modelVersion: string;
  label: string;
  split: Split;
  imageState: ImageState;
  /** Path under the sink's folder. */
  imageFile: string | null;
  imageSha256: string | null;
  imageUrl: string | null;
  imageError: string | null;
  /** The message as received, image bytes removed. */
  payload: string;
}

interface Row {
  id: string;
  received_at: number;
  site: string;
  line: string;
  gateway_id: string;
  station: string;
  part_id: string;
  inspection_id: string;
  decided_at: string;
  model_id: string;
  model_version: string;
  label: string;
  split: Split;
  image_state: ImageState;
  image_file: string | null;
  image_sha256: string | null;
  image_url: string | null;
  image_error: string | null;
  payload: string;
}

const SCHEMA_VERSION = 1;

/**
 * What arrived, by correction id: the sink's dedupe memory across restarts
 * and the index of its dataset. SQLite (WAL), so several sink processes on
 * one host may share a folder and still store each correction once.
 */
export class ReceivedIndex {
  private readonly db: Database.Database;
  private readonly insertStmt;
  private readonly hasStmt;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_UPLINK_SINK_WRITE', `cannot open the sink index ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      this.db.close();
      throw new LoupeError('LOUPE_ERR_UPLINK_SINK_WRITE', `sink index ${file} has schema version ${version}, this sink knows up to ${SCHEMA_VERSION}: run a newer Loupe`);
    }
    if (version < 1) {
      this.db.transaction(() => {
        this.db.exec(`
          CREATE TABLE correction (
            id            TEXT PRIMARY KEY,        -- correction id: the dedupe key
            received_at   INTEGER NOT NULL,        -- ms since epoch
            site          TEXT NOT NULL,
            line          TEXT NOT NULL,
            gateway_id    TEXT NOT NULL,
            station       TEXT NOT NULL,
            part_id       TEXT NOT NULL,
            inspection_id TEXT NOT NULL,
            decided_at    TEXT NOT NULL,           -- ISO time from the payload
            model_id      TEXT NOT NULL,
            model_version TEXT NOT NULL,
            label         TEXT NOT NULL,           -- good label or the operator's defect class
            split         TEXT NOT NULL,           -- train | val | test, stable per id
            image_state   TEXT NOT NULL,           -- stored | pending (fetch to retry) | missing
            image_file    TEXT,
            image_sha256  TEXT,
            image_url     TEXT,
            image_error   TEXT,
            payload       TEXT NOT NULL            -- the message, image bytes removed
          );
          CREATE INDEX correction_pending ON correction (image_state) WHERE image_state = 'pending';
          CREATE INDEX correction_order ON correction (decided_at, id);
        `);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
    this.insertStmt = this.db.prepare(
      `INSERT OR IGNORE INTO correction (id, received_at, site, line, gateway_id, station, part_id, inspection_id, decided_at, model_id,
         model_version, label, split, image_state, image_file, image_sha256, image_url, image_error, payload)
       VALUES (@correctionId, @receivedAt, @site, @line, @gatewayId, @station, @partId, @inspectionId, @decidedAt, @modelId,
         @modelVersion, @label, @split, @imageState, @imageFile, @imageSha256, @imageUrl, @imageError, @payload)`,
    );
    this.hasStmt = this.db.prepare<[string], { one: number }>('SELECT 1 AS one FROM correction WHERE id = ?');
  }

  has(correctionId: string): boolean {
    return this.hasStmt.get(correctionId) !== undefined;
  }

  /** False when the id is known already (another sink process stored it first). */
  insert(c: ReceivedCorrection): boolean {
    return this.insertStmt.run(c).changes === 1;
  }

  setImage(correctionId: string, s: { imageState: ImageState; imageFile: string | null; imageSha256: string | null; imageError: string | null }): void {
    this.db
      .prepare('UPDATE correction SET image_state = @imageState, image_file = @imageFile, image_sha256 = @imageSha256, image_error = @imageError WHERE id = @correctionId')
      .run({ correctionId, ...s });
  }

  pending(): ReceivedCorrection[] {
    return this.db.prepare<[], Row>(`SELECT * FROM correction WHERE image_state = 'pending' ORDER BY decided_at, id`).all().map(fromRow);
  }

  /** Every correction in decision order (the order a training set is packed in). */
  all(): ReceivedCorrection[] {
    return this.db.prepare<[], Row>('SELECT * FROM correction ORDER BY decided_at, id').all().map(fromRow);
  }

  count(): number {
    return this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM correction').get()?.n ?? 0;
  }

  close(): void {
    this.db.close();
  }
}

function fromRow(r: Row): ReceivedCorrection {
  return {
    correctionId: r.id,
    receivedAt: r.received_at,
    site: r.site,
    line: r.line,
    gatewayId: r.gateway_id,
    station: r.station,
    partId: r.part_id,
    inspectionId: r.inspection_id,
    decidedAt: r.decided_at,
    modelId: r.model_id,
    modelVersion: r.model_version,
    label: r.label,
    split: r.split,
    imageState: r.image_state,
    imageFile: r.image_file,
    imageSha256: r.image_sha256,
    imageUrl: r.image_url,
    imageError: r.image_error,
    payload: r.payload,
  };
}
