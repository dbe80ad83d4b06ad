import type { Decision } from '../review/review-queue.js';
import type { Db } from './database.js';

interface Row {
  id: string;
  inspection_id: string;
  verdict: 'pass' | 'fail';
  defect_class: string | null;
  note: string | null;
  decided_by: 'operator' | 'timeout';
  operator_id: string | null;
  decided_at: number;
}

/** The audit trail of review verdicts: one row per settled part, never updated. */
export class ReviewDecisionRepo {
  private readonly insertStmt;
  private readonly byIdStmt;
  private readonly byInspectionStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO review_decision (id, inspection_id, verdict, defect_class, note, decided_by, operator_id, decided_at)
       VALUES (@id, @inspectionId, @verdict, @defectClass, @note, @decidedBy, @operatorId, @decidedAt)`,
    );
    this.byIdStmt = db.prepare<[string], Row>('SELECT * FROM review_decision WHERE id = ?');
    this.byInspectionStmt = db.prepare<[string], Row>('SELECT * FROM review_decision WHERE inspection_id = ?');
  }

  insert(d: Decision): void {
    this.insertStmt.run({ ...d, decidedAt: d.decidedAt.getTime() });
  }

  byId(id: string): Decision | undefined {
    return toDecision(this.byIdStmt.get(id));
  }

  forInspection(inspectionId: string): Decision | undefined {
    return toDecision(this.byInspectionStmt.get(inspectionId));
  }
}

function toDecision(r: Row | undefined): Decision | undefined {
  if (r === undefined) return undefined;
  return {
    id: r.id,
    inspectionId: r.inspection_id,
    verdict: r.verdict,
    defectClass: r.defect_class,
    note: r.note,
    decidedBy: r.decided_by,
    operatorId: r.operator_id,
    decidedAt: new Date(r.decided_at),
  };
}
