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

interface ChunkHeader {
  station: string;
  sha256: string;
  bytes: number;
  count: number;
  firstAt: number;
}

/**
 * The gateway's receiving end for model packages. Each message is
 * acknowledged only after it is on disk (chunks) or the package was judged
 * (registered or refused); a failure to write is not acknowledged, so the
 * broker sends the message again on the next connection. A refused package
 * is acknowledged: sending it again would not make it better.
 */
export class ModelDelivery extends EventEmitter<ModelDeliveryEvents> {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly cfg: ModelsConfig['delivery'] & { maxPackageBytes: number },
    private readonly deps: {
      topics: TopicOrigin;
      stations: readonly string[];
      /** Where chunks wait for the rest of their package. */
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

  /** Handle one message; resolves when it may be acknowledged, rejects when it must come again. */
  handle(topic: string, payload: Buffer): Promise<void> {
    const run = this.queue.then(() => this.handleNow(topic, payload));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async handleNow(topic: string, payload: Buffer): Promise<void> {
    await this.sweep();
    const station = this.deps.stations.find((s) => stationTopic(this.deps.topics, s, 'model') === topic);
    let msg: ModelMessageWire;
    try {
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
      msg = parsed.data;
      if (msg.station !== station) throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `message names station "${msg.station}" but came on the topic of "${station}"`);
      if (msg.bytes > this.cfg.maxPackageBytes) throw new LoupeError('LOUPE_ERR_MODEL_TOO_LARGE', `model.onnx of ${msg.bytes} bytes is over models.maxPackageMb`);
    } catch (err) {
      if (!isLoupeError(err)) throw err;
      this.deps.metrics.modelDeliveries.inc({ transfer: 'unknown', outcome: 'refused' });
      this.deps.log.warn({ code: err.code, topic }, `model message on ${topic} ignored: ${err.message}`);
      return;
    }

    const done = this.deps.repo.delivery(msg.deliveryId);
    if (done) {
      this.deps.log.debug({ deliveryId: msg.deliveryId }, 'model delivery already finished; redelivered message ignored');
      return;
    }
    let onnx: Buffer | null;
    try {
      onnx = await this.receive(msg);
    } catch (err) {
      if (!isLoupeError(err) || err.code === 'LOUPE_ERR_STORE_WRITE') throw err;
      return this.finish(msg, null, err);
    }
    if (onnx === null) return; // more chunks to come
    try {
      if (onnx.length !== msg.bytes) throw new LoupeError('LOUPE_ERR_MODEL_PACKAGE', `model.onnx arrived with ${onnx.length} bytes, the message says ${msg.bytes}`);
      const result = await this.deps.register({
        manifest: msg.manifest,
        onnx,
        card: msg.card,
        sha256: msg.sha256.toLowerCase(),
        source: 'mqtt',
        actor: `mqtt:${msg.deliveryId}`,
        station: msg.station,
        reason: msg.reason,
      });
      await this.finish(msg, result, null);
    } catch (err) {
      if (!isLoupeError(err) || err.code === 'LOUPE_ERR_STORE_WRITE') throw err;
      await this.finish(msg, null, err);
    }
  }

  /** The whole model.onnx once it is all here, else null (a chunk was stored). */
  private async receive(msg: ModelMessageWire): Promise<Buffer | null> {
    if (msg.transfer === 'inline') return decode(msg.data);
    if (msg.transfer === 'reference') return this.fetchPackage(msg.url, msg.bytes);
    const dir = join(this.deps.incomingDir, msg.deliveryId);
    const headerFile = join(dir, 'header.json');
    const expected: ChunkHeader = { station: msg.station, sha256: msg.sha256.toLowerCase(), bytes: msg.bytes, count: msg.chunk.count, firstAt: this.now() };
    let stored: ChunkHeader | null = null;
    try {
      stored = JSON.parse(await readFile(headerFile, 'utf8')) as ChunkHeader;
    } catch {
      stored = null;
    }
    if (stored && (stored.sha256 !== expected.sha256 || stored.bytes !== expected.bytes || stored.count !== expected.count || stored.station !== expected.station)) {
      await rm(dir, { recursive: true, force: true });
      throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `chunk ${msg.chunk.index} of delivery ${msg.deliveryId} describes another package than the chunks before it`);
    }
    if (msg.chunk.index >= msg.chunk.count) throw new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `chunk index ${msg.chunk.index} is not below count ${msg.chunk.count}`);
    const data = decode(msg.chunk.data);
    try {
      await mkdir(dir, { recursive: true });
      if (!stored) await writeAtomic(headerFile, Buffer.from(JSON.stringify(expected)));
      await writeAtomic(join(dir, `${msg.chunk.index}.part`), data);
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_STORE_WRITE', `cannot keep chunk ${msg.chunk.index} of model delivery ${msg.deliveryId}: ${errorMessage(err)}`, { cause: err });
    }
    const have = (await readdir(dir)).filter((f) => /^\d+\.part$/.test(f)).length;
    this.deps.log.debug({ deliveryId: msg.deliveryId, chunk: msg.chunk.index, have, of: msg.chunk.count }, 'model chunk stored');
    if (have < msg.chunk.count) return null;
    const parts: Buffer[] = [];
    for (let i = 0; i < msg.chunk.count; i++) parts.push(await readFile(join(dir, `${i}.part`)));
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

  private async finish(msg: ModelMessageWire, result: IntakeResult | null, err: LoupeError | null): Promise<void> {
    const m = result?.package;
    const manifestId = typeof msg.manifest.id === 'string' ? msg.manifest.id : null;
    const manifestVersion = typeof msg.manifest.version === 'string' ? msg.manifest.version : null;
    const reason = err ? String((err.details as { reason?: unknown } | undefined)?.reason ?? err.code) : null;
    const outcome: DeliveryOutcome = {
      deliveryId: msg.deliveryId,
      station: msg.station,
      modelId: m?.modelId ?? manifestId,
      version: m?.version ?? manifestVersion,
      sha256: msg.sha256.toLowerCase(),
      transfer: msg.transfer,
      state: err ? 'refused' : 'registered',
      code: err ? reason : null,
      message: err ? err.message.slice(0, 1000) : result?.created === false ? 'already registered' : null,
      finishedAt: new Date(this.now()),
    };
    this.deps.repo.recordDelivery(outcome);
    if (msg.transfer === 'chunked') await rm(join(this.deps.incomingDir, msg.deliveryId), { recursive: true, force: true });
    this.deps.metrics.modelDeliveries.inc({ transfer: msg.transfer, outcome: outcome.state });
    const line = { deliveryId: msg.deliveryId, station: msg.station, model: outcome.modelId, version: outcome.version, transfer: msg.transfer, code: outcome.code };
    if (err) this.deps.log.warn(line, `model delivery ${msg.deliveryId} for station ${msg.station} refused: ${err.message}`);
    else this.deps.log.info(line, `model delivery ${msg.deliveryId}: ${outcome.modelId}@${outcome.version} ${result?.created === false ? 'was already registered' : 'registered'}`);
    this.emit('finished', outcome);
  }

  /** Drop chunked deliveries that stayed incomplete for longer than models.delivery.incompleteTimeoutH. */
  async sweep(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.deps.incomingDir);
    } catch {
      return;
    }
    const limit = this.cfg.incompleteTimeoutH * 3_600_000;
    for (const id of names) {
      const dir = join(this.deps.incomingDir, id);
      let h: ChunkHeader;
      try {
        h = JSON.parse(await readFile(join(dir, 'header.json'), 'utf8')) as ChunkHeader;
      } catch {
        continue;
      }
      if (this.now() - h.firstAt < limit) continue;
      const have = (await readdir(dir)).filter((f) => f.endsWith('.part')).length;
      const err = new LoupeError('LOUPE_ERR_MODEL_DELIVERY', `only ${have} of ${h.count} chunks arrived within models.delivery.incompleteTimeoutH (${this.cfg.incompleteTimeoutH} h)`);
      this.deps.repo.recordDelivery({ deliveryId: id, station: h.station, modelId: null, version: null, sha256: h.sha256, transfer: 'chunked', state: 'refused', code: err.code, message: err.message, finishedAt: new Date(this.now()) });
      await rm(dir, { recursive: true, force: true });
      this.deps.metrics.modelDeliveries.inc({ transfer: 'chunked', outcome: 'refused' });
      this.deps.log.warn({ deliveryId: id, station: h.station, have, count: h.count }, `model delivery ${id} dropped: ${err.message}`);
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
