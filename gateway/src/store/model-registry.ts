import type { Db } from './database.js';

/** A package the registry verified and keeps on disk. */
export interface RegisteredPackage {
  modelId: string;
  version: string;
  /** sha256 of model.onnx, hex. */
  sha256: string;
  manifestSha256: string;
  bytes: number;
  /** Folder relative to the registry dir. */
  dir: string;
  source: 'api' | 'mqtt';
  addedBy: string;
  addedAt: Date;
  parent: string | null;
  checks: Record<string, unknown>;
}

/** Which model a station runs: a registry package, or the one its config names. */
export type ModelSource = 'registry' | 'config';

export type ModelAction = 'register' | 'refuse' | 'shadow-start' | 'shadow-stop' | 'promote' | 'rollback' | 'promote-refused';

export interface ModelRef {
  source: ModelSource;
  /** Null with source config when the configured package is not known by id here (never: kept for rows written by hand). */
  modelId: string | null;
  version: string | null;
  sha256: string | null;
}

export interface ModelEvent {
  seq: number;
  at: Date;
  station: string | null;
  action: ModelAction;
  model: ModelRef | null;
  previous: ModelRef | null;
  actor: string;
  reason: string;
  detail: Record<string, unknown> | null;
}

export interface NewModelEvent {
  station: string | null;
  action: ModelAction;
  model?: ModelRef | null;
  previous?: ModelRef | null;
  actor: string;
  reason: string;
  detail?: Record<string, unknown> | null;
  at?: Date;
}

export interface DeliveryOutcome {
  deliveryId: string;
  station: string;
  modelId: string | null;
  version: string | null;
  sha256: string;
  transfer: 'inline' | 'chunked' | 'reference';
  state: 'registered' | 'refused';
  code: string | null;
  message: string | null;
  finishedAt: Date;
}

interface PackageRow {
  model_id: string;
  version: string;
  sha256: string;
  manifest_sha256: string;
  bytes: number;
  dir: string;
  source: 'api' | 'mqtt';
  added_by: string;
  added_at: number;
  parent: string | null;
  checks: string;
}

interface EventRow {
  seq: number;
  at: number;
  station: string | null;
  action: ModelAction;
  model_id: string | null;
  version: string | null;
  sha256: string | null;
  source: ModelSource | null;
  previous_model_id: string | null;
  previous_version: string | null;
  previous_sha256: string | null;
  previous_source: ModelSource | null;
  actor: string;
  reason: string;
  detail: string | null;
}

interface DeliveryRow {
  delivery_id: string;
  station: string;
  model_id: string | null;
  version: string | null;
  sha256: string;
  transfer: DeliveryOutcome['transfer'];
  state: DeliveryOutcome['state'];
  code: string | null;
  message: string | null;
  finished_at: number;
}

/** The registry's tables: packages, the event log (which also says what each station runs) and MQTT deliveries. */
export class ModelRegistryRepo {
  private readonly insertPackageStmt;
  private readonly getPackageStmt;
  private readonly listPackagesStmt;
  private readonly insertEventStmt;
  private readonly stationEventsStmt;
  private readonly switchEventsStmt;
  private readonly insertDeliveryStmt;
  private readonly getDeliveryStmt;

  constructor(readonly db: Db) {
    this.insertPackageStmt = db.prepare(
      `INSERT INTO model_package (model_id, version, sha256, manifest_sha256, bytes, dir, source, added_by, added_at, parent, checks)
       VALUES (@model_id, @version, @sha256, @manifest_sha256, @bytes, @dir, @source, @added_by, @added_at, @parent, @checks)`,
    );
    this.getPackageStmt = db.prepare<[string, string], PackageRow>('SELECT * FROM model_package WHERE model_id = ? AND version = ?');
    this.listPackagesStmt = db.prepare<[], PackageRow>('SELECT * FROM model_package ORDER BY added_at DESC, model_id, version');
    this.insertEventStmt = db.prepare(
      `INSERT INTO model_event (at, station, action, model_id, version, sha256, source, previous_model_id, previous_version, previous_sha256, previous_source, actor, reason, detail)
       VALUES (@at, @station, @action, @model_id, @version, @sha256, @source, @previous_model_id, @previous_version, @previous_sha256, @previous_source, @actor, @reason, @detail)`,
    );
    this.stationEventsStmt = db.prepare<[string, number, number], EventRow>('SELECT * FROM model_event WHERE station = ? AND seq < ? ORDER BY seq DESC LIMIT ?');
    this.switchEventsStmt = db.prepare<[string], EventRow>(`SELECT * FROM model_event WHERE station = ? AND action IN ('promote', 'rollback') ORDER BY seq`);
    this.insertDeliveryStmt = db.prepare(
      `INSERT OR REPLACE INTO model_delivery (delivery_id, station, model_id, version, sha256, transfer, state, code, message, finished_at)
       VALUES (@delivery_id, @station, @model_id, @version, @sha256, @transfer, @state, @code, @message, @finished_at)`,
    );
    this.getDeliveryStmt = db.prepare<[string], DeliveryRow>('SELECT * FROM model_delivery WHERE delivery_id = ?');
  }

  insertPackage(p: RegisteredPackage): void {
    this.insertPackageStmt.run({
      model_id: p.modelId,
      version: p.version,
      sha256: p.sha256,
      manifest_sha256: p.manifestSha256,
      bytes: p.bytes,
      dir: p.dir,
      source: p.source,
      added_by: p.addedBy,
      added_at: p.addedAt.getTime(),
      parent: p.parent,
      checks: JSON.stringify(p.checks),
    });
  }

  getPackage(modelId: string, version: string): RegisteredPackage | undefined {
    const r = this.getPackageStmt.get(modelId, version);
    return r === undefined ? undefined : toPackage(r);
  }

  packages(): RegisteredPackage[] {
    return this.listPackagesStmt.all().map(toPackage);
  }

  /** Append to the event log; returns the event's sequence number. */
  recordEvent(e: NewModelEvent): number {
    const m = e.model ?? null;
    const p = e.previous ?? null;
    const info = this.insertEventStmt.run({
      at: (e.at ?? new Date()).getTime(),
      station: e.station,
      action: e.action,
      model_id: m?.modelId ?? null,
      version: m?.version ?? null,
      sha256: m?.sha256 ?? null,
      source: m?.source ?? null,
      previous_model_id: p?.modelId ?? null,
      previous_version: p?.version ?? null,
      previous_sha256: p?.sha256 ?? null,
      previous_source: p?.source ?? null,
      actor: e.actor,
      reason: e.reason,
      detail: e.detail ? JSON.stringify(e.detail) : null,
    });
    return Number(info.lastInsertRowid);
  }

  /** A station's events, newest first; `before` is a sequence cursor. */
  events(station: string, opts: { before?: number; limit: number }): ModelEvent[] {
    return this.stationEventsStmt.all(station, opts.before ?? Number.MAX_SAFE_INTEGER, opts.limit).map(toEvent);
  }

  /** Promotions and rollbacks of a station, oldest first: replayed, they say what it runs. */
  switches(station: string): ModelEvent[] {
    return this.switchEventsStmt.all(station).map(toEvent);
  }

  recordDelivery(d: DeliveryOutcome): void {
    this.insertDeliveryStmt.run({
      delivery_id: d.deliveryId,
      station: d.station,
      model_id: d.modelId,
      version: d.version,
      sha256: d.sha256,
      transfer: d.transfer,
      state: d.state,
      code: d.code,
      message: d.message,
      finished_at: d.finishedAt.getTime(),
    });
  }

  delivery(deliveryId: string): DeliveryOutcome | undefined {
    const r = this.getDeliveryStmt.get(deliveryId);
    if (r === undefined) return undefined;
    return {
      deliveryId: r.delivery_id,
      station: r.station,
      modelId: r.model_id,
      version: r.version,
      sha256: r.sha256,
      transfer: r.transfer,
      state: r.state,
      code: r.code,
      message: r.message,
      finishedAt: new Date(r.finished_at),
    };
  }
}

function toPackage(r: PackageRow): RegisteredPackage {
  return {
    modelId: r.model_id,
    version: r.version,
    sha256: r.sha256,
    manifestSha256: r.manifest_sha256,
    bytes: r.bytes,
    dir: r.dir,
    source: r.source,
    addedBy: r.added_by,
    addedAt: new Date(r.added_at),
    parent: r.parent,
    checks: JSON.parse(r.checks) as Record<string, unknown>,
  };
}

function toEvent(r: EventRow): ModelEvent {
  const ref = (source: ModelSource | null, modelId: string | null, version: string | null, sha256: string | null): ModelRef | null =>
    source === null && modelId === null ? null : { source: source ?? 'registry', modelId, version, sha256 };
  return {
    seq: r.seq,
    at: new Date(r.at),
    station: r.station,
    action: r.action,
    model: ref(r.source, r.model_id, r.version, r.sha256),
    previous: ref(r.previous_source, r.previous_model_id, r.previous_version, r.previous_sha256),
    actor: r.actor,
    reason: r.reason,
    detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
  };
}
