import { EventEmitter } from 'node:events';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ModelsConfig } from '../config/sections/models.js';
import { errorMessage, isLoupeError, LoupeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { IncomingPackage, IntakeResult } from '../model-registry/registry.js';
import type { DeliveryOutcome, ModelRegistryRepo } from '../store/model-registry.js';
import { stationTopic, type TopicOrigin } from './topics.js';

/**
 * `loupe.model` v1, on `<root>/v1/<site>/<line>/<station>/model` (QoS 1, not
 * retained): a model package for one station, in one of three forms.
 *
 * - `inline`: model.onnx base64 in `data`;
 * - `chunked`: model.onnx split in `chunk.count` messages, each with its
 *   `chunk.index` and base64 `chunk.data`, all under one `deliveryId`; any order;
 * - `reference`: `url` the gateway fetches model.onnx from (http or https).
 *
 * Every message carries the package's model.json (`manifest`), its card,
 * and `sha256` and `bytes` of the whole model.onnx: the gateway refuses the
 * package when what it assembled differs. Objects are open: fields a
 * gateway does not know are ignored, as in the other uplink payloads.
 */
const header = {
  schema: z.literal('loupe.model'),
  schemaVersion: z.literal(1),
  /** Same for every chunk of one package; a redelivered message with a finished id is acknowledged and ignored. */
  deliveryId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/),
  station: z.string().min(1).max(64),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/),
  bytes: z.number().int().positive(),
  manifest: z.record(z.string(), z.unknown()),
  card: z.string().max(1_000_000).nullable().default(null),
  /** Why it was sent (the training pipeline's note); recorded with the registration. */
  reason: z.string().min(1).max(500).default('delivered over MQTT'),
};

export const modelMessageWire = z.discriminatedUnion('transfer', [
  z.looseObject({ ...header, transfer: z.literal('inline'), data: z.string().min(1) }),
  z.looseObject({
    ...header,
    transfer: z.literal('chunked'),
    chunk: z.looseObject({ index: z.number().int().min(0), count: z.number().int().min(1).max(100_000), data: z.string().min(1) }),
  }),
  z.looseObject({ ...header, transfer: z.literal('reference'), url: z.url({ protocol: /^https?$/ }) }),
]);

export type ModelMessageWire = z.infer<typeof modelMessageWire>;

export interface ModelDeliveryEvents {
  /** The broker granted the model topics: packages sent from now on arrive. */
  listening: [string[]];
  /** A delivery ended: the package registered (or was known), or was refused. */
  finished: [DeliveryOutcome];
}

/** What a delivery folder holds besides its chunks: everything needed to finish it after a restart. */
interface DeliveryHeader {
  deliveryId: string;
  station: string;
  transfer: ModelMessageWire['transfer'];
  sha256: string;
  bytes: number;
  /** Chunks that make up model.onnx (1 for inline, 0 for reference). */
  count: number;
  url: string | null;
  manifest: Record<string, unknown>;
  card: string | null;
  reason: string;
  firstAt: number;
}

const HEADER = 'header.json';

/**
 * The gateway's receiving end for model packages. A message is
 * acknowledged as soon as what it carries is on disk, under
 * `<incomingDir>/<deliveryId>/`; verification runs afterwards, one package
 * at a time, so a large package never holds up the broker connection the
 * corrections travel on. A failure to write is not acknowledged: the broker
 * sends the message again on the next connection. A delivery left complete
 * but unjudged by a crash is finished at the next start; a refused package
 * is recorded and not retried (sending it again would not make it better).
 */
export class ModelDelivery extends EventEmitter<ModelDeliveryEvents> {
  private receiving: Promise<unknown> = Promise.resolve();
  private judging: Promise<unknown> = Promise.resolve();
  private readonly scheduled = new Set<string>();

  constructor(
    private readonly cfg: ModelsConfig['delivery'] & { maxPackageBytes: number },
    private readonly deps: {
      topics: TopicOrigin;
      stations: readonly string[];
      /** Where deliveries wait to be complete and judged. */
      incomingDir: string;
      repo: ModelRegistryRepo;
      register: (p: IncomingPackage) => Promise<IntakeResult>;
      metrics: Metrics;
      log: Logger;
      fetch?: typeof fetch;
      now?: () => number;
    },
  ) {
    super();
  }

  /** One topic per station this gateway serves. */
  filters(): string[] {
    return this.deps.stations.map((s) => stationTopic(this.deps.topics, s, 'model'));
  }

  subscribed(filters: string[]): void {
    this.emit('listening', filters);
  }

  /** Finish deliveries a previous process received completely but did not judge; drop stale partial ones. */
  async resume(): Promise<void> {
    for (const id of await this.deliveryDirs()) {
      const h = await this.readHeader(id);
      if (h && (await this.complete(h))) this.schedule(h);
    }
    await this.sweep();
  }

  /** Handle one message; resolves when it may be acknowledged, rejects when it must come again. */
  handle(topic: string, payload: Buffer): Promise<void> {
    const run = this.receiving.then(() => this.receive(topic, payload));
    this.receiving = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every delivery received so far has been judged (tests, orderly stop). */
  async idle(): Promise<void> {
    await this.receiving;
    await this.judging;
  }

  private async receive(topic: string, payload: Buffer): Promise<void> {
    await this.sweep();
    let msg: ModelMessageWire;
    try {
      msg = this.parse(topic, payload);
    } catch (err) {
      if (!isLoupeError(err)) throw err;
      this.deps.metrics.modelDeliveries.inc({ transfer: 'unknown', outcome: 'refused' });
      this.deps.log.warn({ code: err.code, topic }, `model message on ${topic} ignored: ${err.message}`);
      return;
    }
    if (this.deps.repo.delivery(msg.deliveryId) || this.scheduled.has(msg.deliveryId)) {
      this.deps.log.debug({ deliveryId: msg.deliveryId }, 'model delivery already received; repeated message ignored');
      return;
    }
    const dir = join(this.deps.incomingDir, msg.deliveryId);
    const header: DeliveryHeader = {
      deliveryId: msg.deliveryId,
      station: msg.station,
      transfer: msg.transfer,
      sha256: msg.sha256.toLowerCase(),
      bytes: msg.bytes,
      count: msg.transfer === 'chunked' ? msg.chunk.count : msg.transfer === 'inline' ? 1 : 0,
      url: msg.transfer === 'reference' ? msg.url : null,
      manifest: msg.manifest,
      card: msg.card,
      reason: msg.reason,
      firstAt: this.now(),
    };
    const stored = await this.readHeader(msg.deliveryId);
    if (stored && (stored.sha256 !== header.sha256 || stored.bytes !== header.bytes || stored.count !== header.count || stored.station !== header.station || stored.transfer !== header.transfer)) {
      await rm(dir, { recursive: true, force: true });
      return this.refuse(header, new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `a message of delivery ${msg.deliveryId} describes another package than the one before it`));
    }
    let chunk: { index: number; data: Buffer } | null = null;
    try {
      if (msg.transfer === 'chunked') {
        if (msg.chunk.index >= msg.chunk.count) throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `chunk index ${msg.chunk.index} is not below count ${msg.chunk.count}`);
        chunk = { index: msg.chunk.index, data: decode(msg.chunk.data) };
      } else if (msg.transfer === 'inline') {
        chunk = { index: 0, data: decode(msg.data) };
      }
    } catch (err) {
      if (!isLoupeError(err)) throw err;
      await rm(dir, { recursive: true, force: true });
      return this.refuse(header, err);
    }
    try {
      await mkdir(dir, { recursive: true });
      if (!stored) await writeAtomic(join(dir, HEADER), Buffer.from(JSON.stringify(header)));
      if (chunk) await writeAtomic(join(dir, `${chunk.index}.part`), chunk.data);
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_STORE_WRITE', `cannot keep model delivery ${msg.deliveryId} under ${this.deps.incomingDir}: ${errorMessage(err)}`, { cause: err });
    }
    const h = stored ?? header;
    if (await this.complete(h)) this.schedule(h);
    else this.deps.log.debug({ deliveryId: h.deliveryId, chunk: chunk?.index }, 'model chunk stored');
  }

  private parse(topic: string, payload: Buffer): ModelMessageWire {
    const station = this.deps.stations.find((s) => stationTopic(this.deps.topics, s, 'model') === topic);
    if (!station) throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `${topic} is not a model topic of this gateway`);
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `not JSON: ${errorMessage(err)}`);
    }
    const parsed = modelMessageWire.safeParse(json);
    if (!parsed.success) {
      const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
      const why = typeof version === 'number' && version > 1 ? `schemaVersion ${version} is newer than this gateway knows (1): upgrade it` : parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `not a valid loupe.model message: ${why}`);
    }
    const msg = parsed.data;
    if (msg.station !== station) throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `message names station "${msg.station}" but came on the topic of "${station}"`);
    if (msg.bytes > this.cfg.maxPackageBytes) throw new LoupeError('LOUPE_ERR_MODEL_TOO_LARGE', `model.onnx of ${msg.bytes} bytes is over models.maxPackageMb`);
    return msg;
  }

  private async complete(h: DeliveryHeader): Promise<boolean> {
    if (h.count === 0) return true;
    const names = new Set(await readdir(join(this.deps.incomingDir, h.deliveryId)).catch(() => [] as string[]));
    for (let i = 0; i < h.count; i++) if (!names.has(`${i}.part`)) return false;
    return true;
  }

  /** Judge a complete delivery after the ones before it; the message that completed it is acknowledged meanwhile. */
  private schedule(h: DeliveryHeader): void {
    if (this.scheduled.has(h.deliveryId)) return;
    this.scheduled.add(h.deliveryId);
    const run = this.judging.then(() => this.judge(h));
    this.judging = run.catch((err: unknown) => {
      // The package stays on disk and is judged again at the next start.
      this.deps.log.error({ err: errorMessage(err), deliveryId: h.deliveryId }, `model delivery ${h.deliveryId} could not be judged now: ${errorMessage(err)}; retried at the next start`);
    });
  }

  private async judge(h: DeliveryHeader): Promise<void> {
    try {
      let onnx: Buffer;
      try {
        onnx = h.url !== null ? await this.fetchPackage(h.url, h.bytes) : await this.assemble(h);
        if (onnx.length !== h.bytes) throw new LoupeError('LOUPE_ERR_MODEL_PACKAGE', `model.onnx arrived with ${onnx.length} bytes, the message says ${h.bytes}`);
      } catch (err) {
        if (!isLoupeError(err)) throw err;
        return await this.refuse(h, err);
      }
      let result: IntakeResult;
      try {
        result = await this.deps.register({ manifest: h.manifest, onnx, card: h.card, sha256: h.sha256, source: 'mqtt', actor: `mqtt:${h.deliveryId}`, station: h.station, reason: h.reason });
      } catch (err) {
        if (!isLoupeError(err) || err.code === 'LOUPE_ERR_STORE_WRITE') throw err;
        return await this.refuse(h, err);
      }
      await this.finish(h, result, null);
    } finally {
      this.scheduled.delete(h.deliveryId);
    }
  }

  private async assemble(h: DeliveryHeader): Promise<Buffer> {
    const dir = join(this.deps.incomingDir, h.deliveryId);
    const parts: Buffer[] = [];
    for (let i = 0; i < h.count; i++) parts.push(await readFile(join(dir, `${i}.part`)));
    return Buffer.concat(parts);
  }

  private async fetchPackage(url: string, bytes: number): Promise<Buffer> {
    const f = this.deps.fetch ?? fetch;
    let res: Response;
    try {
      res = await f(url, { headers: this.cfg.fetchHeaders, signal: AbortSignal.timeout(this.cfg.fetchTimeoutMs) });
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `cannot fetch ${redact(url)}: ${errorMessage(err)}`);
    }
    if (!res.ok) throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `fetching ${redact(url)} answered HTTP ${res.status}`);
    const length = Number(res.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(length) && length !== bytes) throw new LoupeError('LOUPE_ERR_MODEL_PACKAGE', `${redact(url)} serves ${length} bytes, the message says ${bytes}`);
    const data = Buffer.from(await res.arrayBuffer());
    if (data.length > this.cfg.maxPackageBytes) throw new LoupeError('LOUPE_ERR_MODEL_TOO_LARGE', `${redact(url)} served ${data.length} bytes, over models.maxPackageMb`);
    return data;
  }

  private refuse(h: DeliveryHeader, err: LoupeError): Promise<void> {
    return this.finish(h, null, err);
  }

  private async finish(h: DeliveryHeader, result: IntakeResult | null, err: LoupeError | null): Promise<void> {
    const m = result?.package;
    const reason = err ? String((err.details as { reason?: unknown } | undefined)?.reason ?? err.code) : null;
    const outcome: DeliveryOutcome = {
      deliveryId: h.deliveryId,
      station: h.station,
      modelId: m?.modelId ?? (typeof h.manifest.id === 'string' ? h.manifest.id : null),
      version: m?.version ?? (typeof h.manifest.version === 'string' ? h.manifest.version : null),
      sha256: h.sha256,
      transfer: h.transfer,
      state: err ? 'refused' : 'registered',
      code: reason,
      message: err ? err.message.slice(0, 1000) : result?.created === false ? 'already registered' : null,
      finishedAt: new Date(this.now()),
    };
    this.deps.repo.recordDelivery(outcome);
    await rm(join(this.deps.incomingDir, h.deliveryId), { recursive: true, force: true });
    this.deps.metrics.modelDeliveries.inc({ transfer: h.transfer, outcome: outcome.state });
    const line = { deliveryId: h.deliveryId, station: h.station, model: outcome.modelId, version: outcome.version, transfer: h.transfer, code: outcome.code };
    if (err) this.deps.log.warn(line, `model delivery ${h.deliveryId} for station ${h.station} refused: ${err.message}`);
    else this.deps.log.info(line, `model delivery ${h.deliveryId}: ${outcome.modelId}@${outcome.version} ${result?.created === false ? 'was already registered' : 'registered'}`);
    this.emit('finished', outcome);
  }

  /** Drop chunked deliveries that stayed incomplete for longer than models.delivery.incompleteTimeoutH. */
  private async sweep(): Promise<void> {
    const limit = this.cfg.incompleteTimeoutH * 3_600_000;
    for (const id of await this.deliveryDirs()) {
      if (this.scheduled.has(id)) continue;
      const h = await this.readHeader(id);
      if (!h || this.now() - h.firstAt < limit || (await this.complete(h))) continue;
      const have = (await readdir(join(this.deps.incomingDir, id))).filter((f) => f.endsWith('.part')).length;
      await this.refuse(h, new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `only ${have} of ${h.count} chunks arrived within models.delivery.incompleteTimeoutH (${this.cfg.incompleteTimeoutH} h)`));
    }
  }

  private async deliveryDirs(): Promise<string[]> {
    try {
      return (await readdir(this.deps.incomingDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return [];
    }
  }

  private async readHeader(id: string): Promise<DeliveryHeader | null> {
    try {
      return JSON.parse(await readFile(join(this.deps.incomingDir, id, HEADER), 'utf8')) as DeliveryHeader;
    } catch {
      return null;
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function decode(b64: string): Buffer {
  if (!/^[A-Za-z0-9+/=\s]*$/.test(b64)) throw new LoupeError('LOUPE_ERR_MODEL_PACKAGE', 'model.onnx data is not base64');
  return Buffer.from(b64, 'base64');
}

async function writeAtomic(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
