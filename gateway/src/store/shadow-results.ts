import type { Verdict } from '../inspect/inspection.js';
import type { Db } from './database.js';

export interface ShadowRun {
  id: number;
  station: string;
  modelId: string;
  version: string;
  sha256: string;
  /** The candidate's thresholds during the run. */
  passBelow: number;
  failAtOrAbove: number;
  startedBy: string;
  startedAt: Date;
  stoppedBy: string | null;
  stoppedAt: Date | null;
  skipped: number;
  failed: number;
}

export interface ShadowResult {
  runId: number;
  inspectionId: string;
  activeVerdict: Verdict;
  activeScore: number | null;
  candidateVerdict: Verdict;
  candidateScore: number;
  candidateClass: string | null;
  inferMs: number;
  at: Date;
}

/** Parts of a run grouped by what each model said and, where an operator judged the part, what they said. */
export interface ShadowTally {
  activeVerdict: Verdict;
  candidateVerdict: Verdict;
  /** The operator's verdict, or null for parts no operator judged. */
  operatorVerdict: 'pass' | 'fail' | null;
  parts: number;
}

interface RunRow {
  id: number;
  station: string;
  model_id: string;
  version: string;
  sha256: string;
  pass_below: number;
  fail_at: number;
  started_by: string;
  started_at: number;
  stopped_by: string | null;
  stopped_at: number | null;
  skipped: number;
  failed: number;
}

/** Shadow runs and what the candidate said per part. Nothing here is read on the way to a verdict. */
export class ShadowResultRepo {
  private readonly insertRunStmt;
  private readonly stopRunStmt;
  private readonly countsStmt;
  private readonly getRunStmt;
  private readonly latestRunStmt;
  private readonly openRunsStmt;
  private readonly latestOnStationStmt;
  private readonly insertResultStmt;
  private readonly tallyStmt;
  private readonly resultsStmt;

  constructor(db: Db) {
    this.insertRunStmt = db.prepare(
      `INSERT INTO shadow_run (station, model_id, version, sha256, pass_below, fail_at, started_by, started_at)
       VALUES (@station, @modelId, @version, @sha256, @passBelow, @failAtOrAbove, @startedBy, @startedAt)`,
    );
    this.stopRunStmt = db.prepare('UPDATE shadow_run SET stopped_by = @by, stopped_at = @at WHERE id = @id AND stopped_at IS NULL');
    this.countsStmt = db.prepare('UPDATE shadow_run SET skipped = @skipped, failed = @failed WHERE id = @id');
    this.getRunStmt = db.prepare<[number], RunRow>('SELECT * FROM shadow_run WHERE id = ?');
    this.latestRunStmt = db.prepare<[string, string, string], RunRow>('SELECT * FROM shadow_run WHERE station = ? AND model_id = ? AND version = ? ORDER BY id DESC LIMIT 1');
    this.openRunsStmt = db.prepare<[], RunRow>('SELECT * FROM shadow_run WHERE stopped_at IS NULL');
    this.latestOnStationStmt = db.prepare<[string], RunRow>('SELECT * FROM shadow_run WHERE station = ? ORDER BY id DESC LIMIT 1');
    this.insertResultStmt = db.prepare(
      `INSERT OR IGNORE INTO shadow_result (run_id, inspection_id, active_verdict, active_score, candidate_verdict, candidate_score, candidate_class, infer_ms, at)
       VALUES (@runId, @inspectionId, @activeVerdict, @activeScore, @candidateVerdict, @candidateScore, @candidateClass, @inferMs, @at)`,
    );
    // Operator decisions only: a review that timed out says nothing about the part.
    this.tallyStmt = db.prepare<[number], { active_verdict: Verdict; candidate_verdict: Verdict; operator_verdict: 'pass' | 'fail' | null; parts: number }>(
      `SELECT r.active_verdict, r.candidate_verdict, d.verdict AS operator_verdict, COUNT(*) AS parts
         FROM shadow_result r
         LEFT JOIN review_decision d ON d.inspection_id = r.inspection_id AND d.decided_by = 'operator'
        WHERE r.run_id = ?
        GROUP BY r.active_verdict, r.candidate_verdict, d.verdict`,
    );
    this.resultsStmt = db.prepare<[number, number], { run_id: number; inspection_id: string; active_verdict: Verdict; active_score: number | null; candidate_verdict: Verdict; candidate_score: number; candidate_class: string | null; infer_ms: number; at: number }>(
      'SELECT * FROM shadow_result WHERE run_id = ? ORDER BY inspection_id LIMIT ?',
    );
  }

  startRun(r: { station: string; modelId: string; version: string; sha256: string; passBelow: number; failAtOrAbove: number; startedBy: string; startedAt: Date }): number {
    return Number(this.insertRunStmt.run({ ...r, startedAt: r.startedAt.getTime() }).lastInsertRowid);
  }

  stopRun(id: number, by: string, at: Date, counts: { skipped: number; failed: number }): void {
    this.countsStmt.run({ id, ...counts });
    this.stopRunStmt.run({ id, by, at: at.getTime() });
  }

  /** Keep the skip and failure counts current while a run goes on (they live in memory in between). */
  updateCounts(id: number, counts: { skipped: number; failed: number }): void {
    this.countsStmt.run({ id, ...counts });
  }

  run(id: number): ShadowRun | undefined {
    const r = this.getRunStmt.get(id);
    return r === undefined ? undefined : toRun(r);
  }

  /** The newest run of a package on a station. */
  latestRun(station: string, modelId: string, version: string): ShadowRun | undefined {
    const r = this.latestRunStmt.get(station, modelId, version);
    return r === undefined ? undefined : toRun(r);
  }

  /** The newest run on a station, of any package. */
  latestRunOnStation(station: string): ShadowRun | undefined {
    const r = this.latestOnStationStmt.get(station);
    return r === undefined ? undefined : toRun(r);
  }

  /** Runs a previous process left open (it stopped without stopping them). */
  openRuns(): ShadowRun[] {
    return this.openRunsStmt.all().map(toRun);
  }

  insertResult(r: ShadowResult): void {
    this.insertResultStmt.run({ ...r, at: r.at.getTime() });
  }

  tally(runId: number): ShadowTally[] {
    return this.tallyStmt.all(runId).map((t) => ({ activeVerdict: t.active_verdict, candidateVerdict: t.candidate_verdict, operatorVerdict: t.operator_verdict, parts: t.parts }));
  }

  results(runId: number, limit: number): ShadowResult[] {
    return this.resultsStmt.all(runId, limit).map((r) => ({
      runId: r.run_id,
      inspectionId: r.inspection_id,
      activeVerdict: r.active_verdict,
      activeScore: r.active_score,
      candidateVerdict: r.candidate_verdict,
      candidateScore: r.candidate_score,
      candidateClass: r.candidate_class,
      inferMs: r.infer_ms,
      at: new Date(r.at),
    }));
  }
}

function toRun(r: RunRow): ShadowRun {
  return {
    id: r.id,
    station: r.station,
    modelId: r.model_id,
    version: r.version,
    sha256: r.sha256,
    passBelow: r.pass_below,
    failAtOrAbove: r.fail_at,
    startedBy: r.started_by,
    startedAt: new Date(r.started_at),
    stoppedBy: r.stopped_by,
    stoppedAt: r.stopped_at === null ? null : new Date(r.stopped_at),
    skipped: r.skipped,
    failed: r.failed,
  };
}
