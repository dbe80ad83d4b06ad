import type { DecidedBy, Inspection, InspectionState, Verdict } from '../inspect/inspection.js';
import type { Db } from './database.js';

interface Row {
  id: string;
  part_id: string;
  station: string;
  triggered_at: number;
  trigger: Inspection['trigger'];
  model_id: string;
  model_version: string;
  findings: string;
  defect_score: number | null;
  model_verdict: Verdict | null;
  verdict: Verdict | null;
  defect_class: string | null;
  decided_by: DecidedBy | null;
  reason: string;
  audit: number;
  state: InspectionState;
  error_code: string | null;
  timings: string;
  image_ref: string | null;
  image_bytes: number;
  source_ref: string | null;
  truth: string | null;
  updated_at: number;
}

function toRow(i: Inspection, imageBytes: number, now: number): Row {
  return {
    id: i.id,
    part_id: i.partId,
    station: i.station,
    triggered_at: i.triggeredAt.getTime(),
    trigger: i.trigger,
    model_id: i.modelId,
    model_version: i.modelVersion,
    findings: JSON.stringify(i.findings),
    defect_score: i.defectScore,
    model_verdict: i.modelVerdict,
    verdict: i.verdict,
    defect_class: i.defectClass,
    decided_by: i.decidedBy,
    reason: i.reason,
    audit: i.audit ? 1 : 0,
    state: i.state,
    error_code: i.errorCode,
    timings: JSON.stringify(i.timings),
    image_ref: i.imageRef,
    image_bytes: imageBytes,
    source_ref: i.sourceRef,
    truth: i.truth === null ? null : JSON.stringify(i.truth),
    updated_at: now,
  };
}

export function fromRow(r: Row): Inspection {
  return {
    id: r.id,
    partId: r.part_id,
    station: r.station,
    triggeredAt: new Date(r.triggered_at),
    trigger: r.trigger,
    modelId: r.model_id,
    modelVersion: r.model_version,
    findings: JSON.parse(r.findings) as Inspection['findings'],
    defectScore: r.defect_score,
    modelVerdict: r.model_verdict,
    verdict: r.verdict,
    defectClass: r.defect_class,
    decidedBy: r.decided_by,
    reason: r.reason,
    audit: r.audit === 1,
    state: r.state,
    errorCode: r.error_code,
    timings: JSON.parse(r.timings) as Inspection['timings'],
    imageRef: r.image_ref,
    sourceRef: r.source_ref,
    truth: r.truth === null ? null : (JSON.parse(r.truth) as Inspection['truth']),
  };
}

const COLUMNS = [
  'id', 'part_id', 'station', 'triggered_at', 'trigger', 'model_id', 'model_version', 'findings', 'defect_score',
  'model_verdict', 'verdict', 'defect_class', 'decided_by', 'reason', 'audit', 'state', 'error_code', 'timings',
  'image_ref', 'image_bytes', 'source_ref', 'truth', 'updated_at',
] as const;

/** The inspection log: one row per part, written before anything leaves the box. */
export class InspectionRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly settleStmt;
  private readonly pendingStmt;
  private readonly bySourceStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare<Row>(`INSERT INTO inspection (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`);
    this.getStmt = db.prepare<[string], Row>('SELECT * FROM inspection WHERE id = ?');
    this.settleStmt = db.prepare(
      `UPDATE inspection SET verdict = @verdict, defect_class = @defectClass, decided_by = @decidedBy, reason = @reason,
         state = @state, updated_at = @now WHERE id = @id AND state = 'awaiting-review'`,
    );
    this.pendingStmt = db.prepare<[], Row>(`SELECT * FROM inspection WHERE state = 'awaiting-review' ORDER BY id`);
    this.bySourceStmt = db.prepare<[string, string], { id: string }>('SELECT id FROM inspection WHERE station = ? AND source_ref = ? LIMIT 1');
  }

  insert(i: Inspection, imageBytes = 0): void {
    this.insertStmt.run(toRow(i, imageBytes, Date.now()));
  }

  get(id: string): Inspection | undefined {
    const r = this.getStmt.get(id);
    return r === undefined ? undefined : fromRow(r);
  }

  /**
   * Settle a part that waits for review. Returns false when it was settled
   * already (another HMI or the timeout got there first).
   */
  settle(id: string, s: { verdict: Verdict; defectClass: string | null; decidedBy: DecidedBy; reason: string; state: InspectionState }): boolean {
    return this.settleStmt.run({ id, ...s, now: Date.now() }).changes === 1;
  }

  /** Parts still waiting for an operator, oldest first (survives restarts). */
  awaitingReview(): Inspection[] {
    return this.pendingStmt.all().map(fromRow);
  }

  /** Whether a file-drop source already produced an inspection (no double processing after a crash). */
  hasSource(station: string, sourceRef: string): boolean {
    return this.bySourceStmt.get(station, sourceRef) !== undefined;
  }

  /** Newest first; `before` is an id cursor, stable while new parts arrive (ids grow with time). */
  list(q: { station?: string; verdict?: string; state?: string; before?: string; limit: number }): Inspection[] {
    const where: string[] = [];
    const args: Record<string, unknown> = { limit: q.limit };
    if (q.station) (where.push('station = @station'), (args.station = q.station));
    if (q.verdict) (where.push('verdict = @verdict'), (args.verdict = q.verdict));
    if (q.state) (where.push('state = @state'), (args.state = q.state));
    if (q.before) (where.push('id < @before'), (args.before = q.before));
    const sql = `SELECT * FROM inspection ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
    return this.db.prepare<Record<string, unknown>, Row>(sql).all(args).map(fromRow);
  }

  /** Bytes of images still on disk, per the log. */
  imageBytes(): number {
    return this.db.prepare<[], { n: number | null }>('SELECT SUM(image_bytes) AS n FROM inspection WHERE image_ref IS NOT NULL').get()?.n ?? 0;
  }

  /**
   * Oldest stored images that retention may delete: never one whose part
   * still waits for an operator or whose message still waits for the broker.
   */
  oldestImages(limit: number): { id: string; imageRef: string; bytes: number; triggeredAt: number }[] {
    return this.db
      .prepare<[number], { id: string; image_ref: string; image_bytes: number; triggered_at: number }>(
        `SELECT id, image_ref, image_bytes, triggered_at FROM inspection
           WHERE image_ref IS NOT NULL AND state <> 'awaiting-review'
             AND id NOT IN (SELECT inspection_id FROM outbox WHERE inspection_id IS NOT NULL)
           ORDER BY triggered_at LIMIT ?`,
      )
      .all(limit)
      .map((r) => ({ id: r.id, imageRef: r.image_ref, bytes: r.image_bytes, triggeredAt: r.triggered_at }));
  }

  /** Forget the images of pruned files so the API does not offer what is gone. */
  clearImages(ids: string[]): void {
    const stmt = this.db.prepare('UPDATE inspection SET image_ref = NULL, image_bytes = 0 WHERE id = ?');
    this.db.transaction(() => ids.forEach((id) => stmt.run(id)))();
  }
}
