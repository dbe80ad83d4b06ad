import Database from 'better-sqlite3';
import type { DecidedBy, Inspection, InspectionState, Verdict } from '../inspect/inspection.js';
import type { Decision } from '../review/review-queue.js';
import type { Db } from './database.js';
import { fromRow } from './inspections.js';

/**
 * The engineer API's reads: filtered listing with cursor pagination,
 * aggregation for statistics, and export iteration. All SQL of the engineer
 * API lives here; callers pass a filter and get rows or counts back.
 */

/** Which inspections a list, export or statistic covers. Every field narrows; none set = everything. */
export interface InspectionFilter {
  /** Triggered at or after (inclusive). */
  from?: Date;
  /** Triggered before (exclusive). */
  to?: Date;
  stations?: string[];
  /** The verdict that stands now. */
  verdicts?: Verdict[];
  /** The verdict the model gave at once. */
  modelVerdicts?: Verdict[];
  decidedBy?: DecidedBy[];
  states?: InspectionState[];
  /** The defect class of the verdict that stands (the operator's, once reviewed). */
  defectClasses?: string[];
  modelVersions?: string[];
  /** Defect score at least (inclusive); parts without a score are left out. */
  scoreMin?: number;
  /** Defect score at most (inclusive); parts without a score are left out. */
  scoreMax?: number;
  partIdPrefix?: string;
  /** true: a person decided the part (decided-by operator); false: nobody did (yet). */
  reviewed?: boolean;
  /** true: a person gave another verdict than the model's confident pass or fail. */
  overridden?: boolean;
  /** true: confident verdicts sampled for audit. */
  audit?: boolean;
}

/** The row as the log holds it, with the operator's (or timeout's) decision if there is one. */
export interface InspectionWithDecision {
  inspection: Inspection;
  decision: Decision | null;
  /** SQLite rowid: grows with every insert, the snapshot bound of a paging walk. */
  seq: number;
}

/** An operator overrode the model: a confident model verdict that a person changed. */
const OVERRIDDEN = `(i.decided_by = 'operator' AND i.model_verdict IN ('pass', 'fail') AND i.verdict <> i.model_verdict)`;

/** WHERE clause (without the keyword) and its named arguments for a filter. */
export function whereOf(f: InspectionFilter): { sql: string; args: Record<string, unknown> } {
  const where: string[] = [];
  const args: Record<string, unknown> = {};
  const list = (column: string, name: string, values: readonly unknown[] | undefined) => {
    if (values === undefined) return;
    if (values.length === 0) return void where.push('0');
    const names = values.map((v, k) => {
      args[`${name}${k}`] = v;
      return `@${name}${k}`;
    });
    where.push(`${column} IN (${names.join(', ')})`);
  };
  if (f.from) (where.push('i.triggered_at >= @from'), (args.from = f.from.getTime()));
  if (f.to) (where.push('i.triggered_at < @to'), (args.to = f.to.getTime()));
  list('i.station', 'station', f.stations);
  list('i.verdict', 'verdict', f.verdicts);
  list('i.model_verdict', 'modelVerdict', f.modelVerdicts);
  list('i.decided_by', 'decidedBy', f.decidedBy);
  list('i.state', 'state', f.states);
  list('i.defect_class', 'defectClass', f.defectClasses);
  list('i.model_version', 'modelVersion', f.modelVersions);
  if (f.scoreMin !== undefined) (where.push('i.defect_score >= @scoreMin'), (args.scoreMin = f.scoreMin));
  if (f.scoreMax !== undefined) (where.push('i.defect_score <= @scoreMax'), (args.scoreMax = f.scoreMax));
  if (f.partIdPrefix !== undefined && f.partIdPrefix !== '') {
    // A range the part index can use, then the exact test (SQLite compares UTF-8 bytes, which keeps code point order).
    where.push('i.part_id >= @partFrom', 'substr(i.part_id, 1, length(@partFrom)) = @partFrom');
    args.partFrom = f.partIdPrefix;
    const upper = prefixUpperBound(f.partIdPrefix);
    if (upper !== null) (where.push('i.part_id < @partTo'), (args.partTo = upper));
  }
  if (f.reviewed !== undefined) where.push(f.reviewed ? `i.decided_by = 'operator'` : `coalesce(i.decided_by, '') <> 'operator'`);
  if (f.overridden !== undefined) where.push(f.overridden ? OVERRIDDEN : `NOT coalesce(${OVERRIDDEN}, 0)`);
  if (f.audit !== undefined) where.push(f.audit ? 'i.audit = 1' : 'i.audit = 0');
  return { sql: where.length ? where.join(' AND ') : '1', args };
}

/** Smallest string greater than every string that starts with `prefix` (null: none exists). */
export function prefixUpperBound(prefix: string): string | null {
  const points = [...prefix].map((c) => c.codePointAt(0) ?? 0);
  while (points.length > 0) {
    const last = points.pop() ?? 0;
    // Skip the surrogate range: those code points are not valid in UTF-8 text.
    const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
    if (next <= 0x10ffff) return String.fromCodePoint(...points, next);
  }
  return null;
}

// --- listing -------------------------------------------------------------------------------

export type SortOrder = 'desc' | 'asc';

/**
 * Where a walk through the log stands: the last id returned, the direction,
 * and the highest rowid when the walk began. Rows inserted later (parts that
 * arrive while someone pages) lie above that bound and never shift a page.
 */
export interface Cursor {
  id: string;
  snapshot: number;
  order: SortOrder;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, id: c.id, s: c.snapshot, o: c.order })).toString('base64url');
}

/** Null when the text is not a cursor this version issued. */
export function decodeCursor(text: string): Cursor | null {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as { v?: unknown; id?: unknown; s?: unknown; o?: unknown };
    if (c.v !== 1 || typeof c.id !== 'string' || !Number.isSafeInteger(c.s) || (c.o !== 'asc' && c.o !== 'desc')) return null;
    return { id: c.id, snapshot: c.s as number, order: c.o };
  } catch {
    return null;
  }
}

const SELECT_WITH_DECISION = `
  SELECT i.*, i.rowid AS seq,
         d.id AS d_id, d.verdict AS d_verdict, d.defect_class AS d_defect_class, d.note AS d_note,
         d.decided_by AS d_decided_by, d.operator_id AS d_operator_id, d.decided_at AS d_decided_at
    FROM inspection i LEFT JOIN review_decision d ON d.inspection_id = i.id`;

type JoinedRow = Parameters<typeof fromRow>[0] & {
  seq: number;
  d_id: string | null;
  d_verdict: 'pass' | 'fail' | null;
  d_defect_class: string | null;
  d_note: string | null;
  d_decided_by: 'operator' | 'timeout' | null;
  d_operator_id: string | null;
  d_decided_at: number | null;
};

function fromJoined(r: JoinedRow): InspectionWithDecision {
  const decision: Decision | null =
    r.d_id === null
      ? null
      : {
          id: r.d_id,
          inspectionId: r.id,
          verdict: r.d_verdict ?? 'fail',
          defectClass: r.d_defect_class,
          note: r.d_note,
          decidedBy: r.d_decided_by ?? 'operator',
          operatorId: r.d_operator_id,
          decidedAt: new Date(r.d_decided_at ?? 0),
        };
  return { inspection: fromRow(r), decision, seq: r.seq };
}

/** Reads for the engineer API on the gateway's own connection (short statements only). */
export class InspectionQueries {
  private readonly maxSeqStmt;
  private readonly oneStmt;

  constructor(private readonly db: Db) {
    this.maxSeqStmt = db.prepare<[], { s: number | null }>('SELECT MAX(rowid) AS s FROM inspection');
    this.oneStmt = db.prepare<[string], JoinedRow>(`${SELECT_WITH_DECISION} WHERE i.id = ?`);
  }

  /** One inspection with its decision. */
  get(id: string): InspectionWithDecision | undefined {
    const r = this.oneStmt.get(id);
    return r === undefined ? undefined : fromJoined(r);
  }

  /**
   * One page of a walk. Without a cursor the walk starts at the newest (desc)
   * or oldest (asc) row and fixes its snapshot; `next` is null on the last page.
   */
  page(f: InspectionFilter, opts: { limit: number; order: SortOrder; cursor: Cursor | null }): { items: InspectionWithDecision[]; next: Cursor | null } {
    const order = opts.cursor?.order ?? opts.order;
    const snapshot = opts.cursor?.snapshot ?? this.maxSeqStmt.get()?.s ?? 0;
    const { sql, args } = whereOf(f);
    const after = opts.cursor ? ` AND i.id ${order === 'desc' ? '<' : '>'} @after` : '';
    const rows = this.db
      .prepare<Record<string, unknown>, JoinedRow>(
        `${SELECT_WITH_DECISION} WHERE ${sql} AND i.rowid <= @snapshot${after} ORDER BY i.id ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT @limit`,
      )
      .all({ ...args, snapshot, after: opts.cursor?.id, limit: opts.limit + 1 });
    const items = rows.slice(0, opts.limit).map(fromJoined);
    const last = items.at(-1);
    return { items, next: rows.length > opts.limit && last ? { id: last.inspection.id, snapshot, order } : null };
  }

  /** How many inspections match (for "n of N" in a list). */
  count(f: InspectionFilter): number {
    const { sql, args } = whereOf(f);
    return this.db.prepare<Record<string, unknown>, { n: number }>(`SELECT COUNT(*) AS n FROM inspection i WHERE ${sql}`).get(args)?.n ?? 0;
  }

  // --- aggregation for statistics ---

  /**
   * Counts per UTC minute and outcome: everything yield, review, override,
   * escape and p-chart figures need, small enough to bucket by local hour,
   * shift or day outside SQL (a month is at most 43,200 minutes).
   */
  outcomeCounts(f: InspectionFilter): OutcomeCount[] {
    const { sql, args } = whereOf(f);
    return this.db
      .prepare<Record<string, unknown>, { minute: number; mv: Verdict | null; v: Verdict | null; db: DecidedBy | null; st: InspectionState; audit: number; n: number }>(
        `SELECT i.triggered_at / 60000 AS minute, i.model_verdict AS mv, i.verdict AS v, i.decided_by AS db, i.state AS st, i.audit AS audit, COUNT(*) AS n
           FROM inspection i WHERE ${sql}
          GROUP BY minute, mv, v, db, st, audit ORDER BY minute`,
      )
      .all(args)
      .map((r) => ({ minute: r.minute, modelVerdict: r.mv, verdict: r.v, decidedBy: r.db, state: r.st, audit: r.audit === 1, n: r.n }));
  }

  /** Failed parts per defect class of the verdict that stands (null: failed without a class). */
  failsByClass(f: InspectionFilter): { defectClass: string | null; n: number }[] {
    const { sql, args } = whereOf(f);
    return this.db
      .prepare<Record<string, unknown>, { defectClass: string | null; n: number }>(
        `SELECT i.defect_class AS defectClass, COUNT(*) AS n FROM inspection i WHERE ${sql} AND i.verdict = 'fail' GROUP BY i.defect_class`,
      )
      .all(args);
  }

  /**
   * Parts a person judged, grouped by what the model said (verdict and most
   * likely defect class) and what the person said.
   */
  reviewedPairs(f: InspectionFilter): ReviewedPair[] {
    const { sql, args } = whereOf(f);
    return this.db
      .prepare<Record<string, unknown>, { mv: Verdict; top: string | null; v: 'pass' | 'fail'; cls: string | null; audit: number; n: number }>(
        `SELECT i.model_verdict AS mv, json_extract(i.findings, '$[0].label') AS top, i.verdict AS v, i.defect_class AS cls, i.audit AS audit, COUNT(*) AS n
           FROM inspection i WHERE ${sql} AND i.decided_by = 'operator'
          GROUP BY mv, top, v, cls, audit`,
      )
      .all(args)
      .map((r) => ({ modelVerdict: r.mv, modelTopClass: r.top, verdict: r.v, defectClass: r.cls, audit: r.audit === 1, n: r.n }));
  }

  /** Distinct values the filter fields can take, for pickers. */
  facets(): { stations: string[]; modelVersions: string[]; defectClasses: string[] } {
    const col = (sql: string) => this.db.prepare<[], { v: string }>(sql).all().map((r) => r.v);
    return {
      stations: col('SELECT DISTINCT station AS v FROM inspection ORDER BY v'),
      modelVersions: col('SELECT DISTINCT model_version AS v FROM inspection ORDER BY v'),
      defectClasses: col('SELECT DISTINCT defect_class AS v FROM inspection WHERE defect_class IS NOT NULL ORDER BY v'),
    };
  }
}

export interface OutcomeCount {
  /** Minutes since the epoch (UTC) the parts were triggered in. */
  minute: number;
  modelVerdict: Verdict | null;
  verdict: Verdict | null;
  decidedBy: DecidedBy | null;
  state: InspectionState;
  audit: boolean;
  n: number;
}

export interface ReviewedPair {
  modelVerdict: Verdict;
  /** The model's most likely defect class (its first finding), null when it reported none. */
  modelTopClass: string | null;
  verdict: 'pass' | 'fail';
  defectClass: string | null;
  audit: boolean;
  n: number;
}

// --- export iteration --------------------------------------------------------------------------

/**
 * A read-only connection of its own for one export. Exports iterate for
 * minutes while the client downloads; on the gateway's connection an open
 * iterator would block every other statement, the line's writes included.
 * Everything read through one reader sees one snapshot of the log (WAL keeps
 * it while the line goes on writing).
 */
export class ExportReader {
  private readonly db: Db;
  private closed = false;
  /** Iterators not run to the end: SQLite refuses to close a connection while one is open. */
  private readonly open = new Set<IterableIterator<JoinedRow>>();

  constructor(dbFile: string) {
    this.db = new Database(dbFile, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
    this.db.exec('BEGIN');
    // The first read fixes the snapshot.
    this.db.prepare('SELECT COUNT(*) FROM inspection WHERE rowid < 0').get();
  }

  count(f: InspectionFilter): number {
    const { sql, args } = whereOf(f);
    return this.db.prepare<Record<string, unknown>, { n: number }>(`SELECT COUNT(*) AS n FROM inspection i WHERE ${sql}`).get(args)?.n ?? 0;
  }

  /** Rows one at a time (`stmt.iterate()`): memory stays flat however many match. */
  *rows(f: InspectionFilter, order: SortOrder): Generator<InspectionWithDecision> {
    const { sql, args } = whereOf(f);
    const stmt = this.db.prepare<Record<string, unknown>, JoinedRow>(`${SELECT_WITH_DECISION} WHERE ${sql} ORDER BY i.id ${order === 'desc' ? 'DESC' : 'ASC'}`);
    const it = stmt.iterate(args);
    this.open.add(it);
    try {
      for (const r of it) yield fromJoined(r);
    } finally {
      this.open.delete(it);
    }
  }

  /** Ends the snapshot and closes the connection, also when a client walked away in the middle of an iteration. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const it of this.open) it.return?.();
    this.open.clear();
    try {
      this.db.exec('COMMIT');
    } finally {
      this.db.close();
    }
  }
}
