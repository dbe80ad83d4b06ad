import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import type { ModelConfig } from '../config/sections/station.js';
import { errorMessage, isLoupeError, LoupeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ModelRegistryRepo, RegisteredPackage } from '../store/model-registry.js';
import { Detector } from '../vision/detector.js';
import { refusalReason, verifyPackage } from './package-verifier.js';

/** A package as it arrives (upload body or MQTT message), before anything is written. */
export interface IncomingPackage {
  /** model.json: the bytes as sent, or the parsed object. */
  manifest: Buffer | Record<string, unknown>;
  onnx: Buffer;
  /** MODEL_CARD.md, if sent. */
  card: string | null;
  /** sha256 of model.onnx the sender computed; the package is refused when the bytes differ. */
  sha256: string | null;
  source: 'api' | 'mqtt';
  /** Operator id, `token:<id>` or `mqtt:<deliveryId>`. */
  actor: string;
  /** Station the package was sent for, recorded with the event (null: none in particular). */
  station: string | null;
  reason: string;
}

export interface IntakeResult {
  package: RegisteredPackage;
  /** False when this exact package was registered before (a redelivery): nothing changed. */
  created: boolean;
}

/**
 * Packages by model id and version under one folder (`<id>/<version>/`),
 * each verified before it is listed and with its sha256 recorded, so a
 * package that changed on disk is noticed before a station loads it.
 * Intakes run one at a time: verification loads a model, and two uploads of
 * the same version must not race.
 */
export class ModelRegistry {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly deps: { repo: ModelRegistryRepo; maxPackageBytes: number; metrics: Metrics; log: Logger },
  ) {}

  get repo(): ModelRegistryRepo {
    return this.deps.repo;
  }

  /** Remove staging folders a crash left behind. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await rm(join(this.dir, '.staging'), { recursive: true, force: true });
  }

  packages(): RegisteredPackage[] {
    return this.deps.repo.packages();
  }

  get(modelId: string, version: string): RegisteredPackage {
    const p = this.deps.repo.getPackage(modelId, version);
    if (!p) throw new LoupeError('LOUPE_ERR_MODEL_UNKNOWN', `no package ${modelId}@${version} in the registry: upload it first (POST /api/models/<station>/packages) or check GET /api/models`);
    return p;
  }

  pathOf(p: RegisteredPackage): string {
    return join(this.dir, p.dir);
  }

  /**
   * Verify and keep a package. Refusals throw LOUPE_ERR_MODEL_REFUSED with
   * `details.reason` naming the check that failed; the same package sent
   * again is accepted without change; another package under a registered id
   * and version is LOUPE_ERR_MODEL_VERSION_CONFLICT.
   */
  intake(p: IncomingPackage): Promise<IntakeResult> {
    const run = this.queue.then(() => this.intakeNow(p));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async intakeNow(p: IncomingPackage): Promise<IntakeResult> {
    const { repo, log, metrics } = this.deps;
    const manifestBytes = Buffer.isBuffer(p.manifest) ? p.manifest : Buffer.from(`${JSON.stringify(p.manifest, null, 2)}\n`);
    const card = p.card === null ? null : Buffer.from(p.card);
    const bytes = p.onnx.length + manifestBytes.length + (card?.length ?? 0);
    const staging = join(this.dir, '.staging', ulid());
    let verified;
    try {
      if (bytes > this.deps.maxPackageBytes) {
        throw new LoupeError('LOUPE_ERR_MODEL_TOO_LARGE', `package is ${mb(bytes)}, over models.maxPackageMb (${mb(this.deps.maxPackageBytes)}): raise the limit if this model is meant to be that large`);
      }
      if (p.onnx.length === 0) throw new LoupeError('LOUPE_ERR_MODEL_PACKAGE', 'model.onnx is empty');
      await mkdir(staging, { recursive: true });
      await writeFile(join(staging, 'model.json'), manifestBytes);
      await writeFile(join(staging, 'model.onnx'), p.onnx);
      if (card) await writeFile(join(staging, 'MODEL_CARD.md'), card);
      verified = await verifyPackage(staging, { expectedSha256: p.sha256, log: log.child({ check: 'package' }) });
    } catch (err) {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      throw this.refuse(p, err);
    }

    const m = verified.manifest;
    const manifestSha256 = sha256(manifestBytes);
    const known = repo.getPackage(m.id, m.version);
    if (known) {
      await rm(staging, { recursive: true, force: true });
      if (known.sha256 === verified.sha256 && known.manifestSha256 === manifestSha256) return { package: known, created: false };
      const err = new LoupeError(
        'LOUPE_ERR_MODEL_VERSION_CONFLICT',
        `${m.id}@${m.version} is registered with model.onnx ${known.sha256.slice(0, 12)}; this package has ${verified.sha256.slice(0, 12)}${known.sha256 === verified.sha256 ? ' and a different model.json' : ''}: give it a new version`,
        { details: { modelId: m.id, version: m.version, registered: known.sha256, offered: verified.sha256 } },
      );
      repo.recordEvent({ station: p.station, action: 'refuse', model: { source: 'registry', modelId: m.id, version: m.version, sha256: verified.sha256 }, actor: p.actor, reason: p.reason, detail: { code: err.code, message: err.message, source: p.source } });
      metrics.modelPackages.inc({ source: p.source, outcome: 'conflict' });
      throw err;
    }

    const rel = join(m.id, m.version);
    const target = join(this.dir, rel);
    try {
      // A folder without a row is what a crash between rename and insert leaves: replace it.
      await rm(target, { recursive: true, force: true });
      await mkdir(join(this.dir, m.id), { recursive: true });
      await rename(staging, target);
    } catch (err) {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      throw new LoupeError('LOUPE_ERR_STORE_WRITE', `cannot keep package ${m.id}@${m.version} under ${this.dir}: ${errorMessage(err)}`, { cause: err });
    }
    const pkg: RegisteredPackage = {
      modelId: m.id,
      version: m.version,
      sha256: verified.sha256,
      manifestSha256,
      bytes,
      dir: rel,
      source: p.source,
      addedBy: p.actor,
      addedAt: new Date(),
      parent: m.provenance.parent ?? null,
      checks: { ...verified.checks },
    };
    repo.db.transaction(() => {
      repo.insertPackage(pkg);
      repo.recordEvent({ station: p.station, action: 'register', model: { source: 'registry', modelId: pkg.modelId, version: pkg.version, sha256: pkg.sha256 }, actor: p.actor, reason: p.reason, detail: { source: p.source, bytes, checks: verified.checks } });
    })();
    metrics.modelPackages.inc({ source: p.source, outcome: 'registered' });
    log.info(
      { model: pkg.modelId, version: pkg.version, sha256: pkg.sha256.slice(0, 12), source: p.source, by: p.actor, station: p.station, testInferMs: verified.checks.testInferMs },
      `model package ${pkg.modelId}@${pkg.version} verified and registered (${p.source}, by ${p.actor})`,
    );
    return { package: pkg, created: true };
  }

  private refuse(p: IncomingPackage, err: unknown): LoupeError {
    const reason = refusalReason(err);
    if (!isLoupeError(err)) this.deps.log.error({ err }, 'unexpected error verifying a model package');
    const what = describe(p);
    const refusal = new LoupeError('LOUPE_ERR_MODEL_REFUSED', `model package ${what} refused: ${errorMessage(err)}`, {
      cause: err,
      details: { reason, ...(isLoupeError(err) && err.details ? err.details : {}) },
    });
    this.deps.repo.recordEvent({
      station: p.station,
      action: 'refuse',
      model: manifestRef(p),
      actor: p.actor,
      reason: p.reason,
      detail: { code: reason, message: refusal.message, source: p.source },
    });
    this.deps.metrics.modelPackages.inc({ source: p.source, outcome: 'refused' });
    this.deps.log.warn({ code: reason, source: p.source, by: p.actor, station: p.station }, refusal.message);
    return refusal;
  }

  /**
   * Open a registered package for a station with its model settings, after
   * checking that model.onnx is still the file that was verified.
   */
  async openDetector(p: RegisteredPackage, model: ModelConfig, log: Logger): Promise<Detector> {
    const detector = await Detector.load({ ...model, path: this.pathOf(p) }, log);
    if (detector.pkg.sha256 !== p.sha256) {
      await detector.close();
      throw new LoupeError('LOUPE_ERR_MODEL_HASH', `registered package ${p.modelId}@${p.version} changed on disk: model.onnx has sha256 ${detector.pkg.sha256.slice(0, 12)}, registered ${p.sha256.slice(0, 12)}; upload it again under a new version`, {
        details: { expected: p.sha256, actual: detector.pkg.sha256 },
      });
    }
    return detector;
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** id@version as the manifest claims, for messages about a package that may not parse. */
function describe(p: IncomingPackage): string {
  const r = manifestRef(p);
  return r?.modelId ? `${r.modelId}@${r.version ?? '?'}` : '(unreadable model.json)';
}

function manifestRef(p: IncomingPackage): { source: 'registry'; modelId: string | null; version: string | null; sha256: string | null } | null {
  let m: unknown = p.manifest;
  if (Buffer.isBuffer(m)) {
    try {
      m = JSON.parse(m.toString('utf8'));
    } catch {
      return null;
    }
  }
  const o = (m ?? {}) as { id?: unknown; version?: unknown };
  return { source: 'registry', modelId: typeof o.id === 'string' ? o.id.slice(0, 100) : null, version: typeof o.version === 'string' ? o.version.slice(0, 100) : null, sha256: p.sha256 };
}
