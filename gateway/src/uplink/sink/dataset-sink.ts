import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, open, rename } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { DatasetSinkConfig } from '../../config/sections/uplink.js';
import { errorMessage, isLoupeError, LoupeError } from '../../errors.js';
import { loadModelPackage } from '../../vision/model-package.js';
import { BrokerLink } from '../broker-link.js';
import { kindFilter, sharedFilter } from '../topics.js';
import { correctionWire, type CorrectionWire } from '../wire-payloads.js';
import { packDataset, type PackSpec, type PackSummary } from './dataset-packer.js';
import { ReceivedIndex, type ImageState, type ReceivedCorrection, type Split } from './received-index.js';

export interface SinkEvents {
  /** The broker granted the subscription: corrections flow from now on. */
  subscribed: [string];
  /** A new correction is on disk and in the index (the broker gets its PUBACK next). */
  stored: [ReceivedCorrection];
  /** A correction id already in the index arrived again. */
  duplicate: [string];
  /** A message that is not a valid correction, kept under rejected/. */
  rejected: [{ code: string; message: string; file: string }];
}

export interface SinkStats {
  received: number;
  duplicates: number;
  rejected: number;
  /** Corrections in the index (all sink runs). */
  total: number;
}

const EXT: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/bmp': 'bmp', 'image/tiff': 'tif', 'image/webp': 'webp' };
const SAFE = /^[A-Za-z0-9_-]{1,100}$/;
/** Summary log of what arrived, at most this often. */
const STATS_LOG_MS = 60_000;

/**
 * The receiving end of the corrections uplink (`loupe dataset-sink`):
 * subscribes to corrections (a shared subscription, so several sinks split
 * the stream), stores each one once (dedupe by correction id across
 * restarts), and packs what arrived into the training dataset format.
 *
 * The broker gets its PUBACK only after the image and the index row are on
 * disk: a sink that dies mid-message gets the message again.
 */
export class DatasetSink extends EventEmitter<SinkEvents> {
  private readonly link: BrokerLink;
  private index: ReceivedIndex | null = null;
  private readonly filter: string;
  private readonly packSpec: PackSpec;
  private readonly counts = { received: 0, duplicates: 0, rejected: 0 };
  private sinceLastPack = 0;
  private packTimer: NodeJS.Timeout | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private packing: Promise<PackSummary | null> | null = null;
  /** The message being stored (one at a time: the broker waits for its PUBACK). */
  private handling: Promise<void> = Promise.resolve();
  private loggedCounts = '';

  constructor(
    private readonly cfg: DatasetSinkConfig,
    private readonly deps: { log: Logger; fetch?: typeof fetch },
  ) {
    super();
    this.filter = sharedFilter(cfg.group, kindFilter(cfg.topicRoot, cfg, 'correction'));
    this.packSpec = packSpecOf(cfg);
    const clientId = cfg.clientId ?? `loupe-dataset-sink-${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64)}`;
    this.link = new BrokerLink(cfg, {
      clientId,
      log: deps.log,
      hints: { keyPrefix: '', passwordEnv: 'LOUPE_SINK__PASSWORD' },
      // Installed before the first packet can arrive: the default handler would acknowledge unseen.
      prepare: (client) => {
        client.handleMessage = (packet, done) => {
          this.handling = this.onMessage(packet).then(
            () => done(),
            (err: unknown) => this.onStoreFailure(client, err, done),
          );
        };
      },
    });
    this.link.on('online', (client) => this.subscribe(client));
  }

  get outDir(): string {
    return this.cfg.outDir;
  }

  stats(): SinkStats {
    return { ...this.counts, total: this.index?.count() ?? 0 };
  }

  async start(): Promise<void> {
    await mkdir(join(this.cfg.outDir, 'images'), { recursive: true });
    await mkdir(join(this.cfg.outDir, '.tmp'), { recursive: true });
    this.index = new ReceivedIndex(join(this.cfg.outDir, 'index.db'));
    this.deps.log.info({ outDir: this.cfg.outDir, filter: this.filter, known: this.index.count() }, `dataset sink: ${this.index.count()} corrections on file, subscribing to ${this.filter}`);
    this.link.start();
    if (this.cfg.packIntervalS > 0) {
      this.packTimer = setInterval(() => void this.packIfNew(), this.cfg.packIntervalS * 1000);
      this.packTimer.unref();
    }
    this.statsTimer = setInterval(() => this.logStats(), STATS_LOG_MS);
    this.statsTimer.unref();
  }

  /** Disconnect cleanly (the session keeps what arrives meanwhile), pack what is new, close the index. */
  async stop(): Promise<PackSummary | null> {
    if (this.packTimer) clearInterval(this.packTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    await this.link.stop();
    await this.handling;
    await this.packing;
    const summary = this.sinceLastPack > 0 ? await this.pack() : null;
    this.logStats();
    this.index?.close();
    this.index = null;
    return summary;
  }

  /** `--pack-only`: pack what earlier runs received, without connecting. */
  async packOnly(): Promise<PackSummary | null> {
    this.index = new ReceivedIndex(join(this.cfg.outDir, 'index.db'));
    try {
      return await this.pack();
    } finally {
      this.index.close();
      this.index = null;
    }
  }

  /** Fetch images still pending, then pack everything received into `<outDir>/dataset`. */
  async pack(): Promise<PackSummary | null> {
    const index = this.requireIndex();
    this.packing = (async () => {
      await this.retryPendingImages(index);
      this.sinceLastPack = 0;
      return packDataset(this.cfg.outDir, index, this.packSpec, this.deps.log);
    })();
    try {
      return await this.packing;
    } finally {
      this.packing = null;
    }
  }

  private async packIfNew(): Promise<void> {
    if (this.packing || this.sinceLastPack === 0) return;
    await this.pack().catch((err: unknown) => this.deps.log.error({ err: errorMessage(err) }, 'dataset pack failed; retrying at the next interval'));
  }

  private subscribe(client: MqttClient): void {
    client.subscribe(this.filter, { qos: 1 }, (err, granted) => {
      const code = granted?.[0]?.qos;
      if (!err && code !== undefined && code < 0x80) {
        this.deps.log.info({ filter: this.filter, qos: code }, `subscribed to ${this.filter}`);
        this.emit('subscribed', this.filter);
        return;
      }
      const reason = err ? errorMessage(err) : `reason code 0x${(code ?? 0x80).toString(16)}`;
      const e = new LoupeError('LOUPE_ERR_UPLINK_REFUSED', `broker refused the subscription to ${this.filter} (${reason}): allow it in the broker's ACL; reconnecting`);
      this.deps.log.error({ code: e.code }, e.message);
      // Reconnect (with backoff) and try again; staying connected without a subscription would look healthy.
      client.end(true);
    });
  }

  private async onMessage(packet: IPublishPacket): Promise<void> {
    const index = this.requireIndex();
    const raw = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return this.reject(raw, packet.topic, new LoupeError('LOUPE_ERR_UPLINK_PAYLOAD', `not JSON on ${packet.topic}: ${errorMessage(err)}`));
    }
    const parsed = correctionWire.safeParse(json);
    if (!parsed.success) {
      const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
      const why = typeof version === 'number' && version > 1 ? `schemaVersion ${version} is newer than this sink knows (1): upgrade the sink` : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).slice(0, 3).join('; ');
      return this.reject(raw, packet.topic, new LoupeError('LOUPE_ERR_UPLINK_PAYLOAD', `not a valid correction on ${packet.topic}: ${why}`));
    }
    const c = parsed.data;
    if (index.has(c.correctionId)) {
      this.counts.duplicates++;
      this.deps.log.debug({ correctionId: c.correctionId }, 'duplicate correction ignored');
      this.emit('duplicate', c.correctionId);
      return;
    }
    const label = c.operator.verdict === 'pass' ? this.cfg.goodLabel : (c.operator.defectClass ?? 'other');
    let image: { state: ImageState; file: string | null; sha256: string | null; url: string | null; error: string | null };
    try {
      image = await this.storeImage(c, label);
    } catch (err) {
      if (isLoupeError(err, 'LOUPE_ERR_UPLINK_IMAGE')) return this.reject(raw, packet.topic, err);
      throw err;
    }
    const row: ReceivedCorrection = {
      correctionId: c.correctionId,
      receivedAt: Date.now(),
      site: c.site,
      line: c.line,
      gatewayId: c.gatewayId,
      station: c.station,
      partId: c.partId,
      inspectionId: c.inspectionId,
      decidedAt: c.decidedAt,
      modelId: c.model.id,
      modelVersion: c.model.version,
      label,
      split: splitOf(c.correctionId, this.cfg.valPercent, this.cfg.testPercent),
      imageState: image.state,
      imageFile: image.file,
      imageSha256: image.sha256,
      imageUrl: image.url,
      imageError: image.error,
      payload: JSON.stringify({ ...c, image: c.image.transfer === 'inline' ? { ...c.image, data: undefined } : c.image }),
    };
    if (!index.insert(row)) {
      this.counts.duplicates++;
      this.emit('duplicate', c.correctionId);
      return;
    }
    this.counts.received++;
    this.sinceLastPack++;
    this.deps.log.debug({ correctionId: c.correctionId, label, station: c.station, image: image.state }, 'correction stored');
    this.emit('stored', row);
  }

  /** Image bytes to `images/<label>/<id>.<ext>`, verified against the hash the gateway sent. */
  private async storeImage(c: CorrectionWire, label: string): Promise<{ state: ImageState; file: string | null; sha256: string | null; url: string | null; error: string | null }> {
    const img = c.image;
    if (img.transfer === 'missing') return { state: 'missing', file: null, sha256: null, url: null, error: `gateway sent no image (${img.reason})` };
    let data: Buffer;
    if (img.transfer === 'inline') {
      data = Buffer.from(img.data, 'base64');
    } else {
      const fetched = await this.fetchImage(img.url);
      if ('error' in fetched) return { state: fetched.permanent ? 'missing' : 'pending', file: null, sha256: img.sha256, url: img.url, error: fetched.error };
      data = fetched.data;
    }
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (sha256 !== img.sha256 || data.length !== img.bytes) {
      throw new LoupeError('LOUPE_ERR_UPLINK_IMAGE', `image of correction ${c.correctionId} is corrupt: ${data.length} bytes with sha256 ${sha256.slice(0, 12)}, the gateway sent ${img.bytes} bytes ${img.sha256.slice(0, 12)}`);
    }
    const file = join('images', safeName(label), `${safeName(c.correctionId)}.${EXT[img.mediaType] ?? 'bin'}`);
    await this.writeAtomic(file, data);
    return { state: 'stored', file, sha256, url: img.transfer === 'reference' ? img.url : null, error: null };
  }

  private async fetchImage(url: string): Promise<{ data: Buffer } | { error: string; permanent: boolean }> {
    const f = this.deps.fetch ?? fetch;
    try {
      const res = await f(url, { headers: this.cfg.imageFetchHeaders, signal: AbortSignal.timeout(this.cfg.imageFetchTimeoutMs) });
      if (res.status === 404) return { error: `${url}: 404, the gateway no longer has it`, permanent: true };
      if (!res.ok) return { error: `${url}: HTTP ${res.status}`, permanent: false };
      return { data: Buffer.from(await res.arrayBuffer()) };
    } catch (err) {
      return { error: `${url}: ${errorMessage(err)}`, permanent: false };
    }
  }

  private async retryPendingImages(index: ReceivedIndex): Promise<void> {
    for (const r of index.pending()) {
      if (r.imageUrl === null) continue;
      const fetched = await this.fetchImage(r.imageUrl);
      if ('error' in fetched) {
        if (fetched.permanent) index.setImage(r.correctionId, { imageState: 'missing', imageFile: null, imageSha256: r.imageSha256, imageError: fetched.error });
        continue;
      }
      const sha256 = createHash('sha256').update(fetched.data).digest('hex');
      if (sha256 !== r.imageSha256) {
        index.setImage(r.correctionId, { imageState: 'missing', imageFile: null, imageSha256: r.imageSha256, imageError: `fetched image has sha256 ${sha256.slice(0, 12)}, expected ${String(r.imageSha256).slice(0, 12)}` });
        continue;
      }
      const mediaType = (JSON.parse(r.payload) as { image?: { mediaType?: string } }).image?.mediaType ?? '';
      const file = join('images', safeName(r.label), `${safeName(r.correctionId)}.${EXT[mediaType] ?? 'bin'}`);
      await this.writeAtomic(file, fetched.data);
      index.setImage(r.correctionId, { imageState: 'stored', imageFile: file, imageSha256: sha256, imageError: null });
      this.deps.log.info({ correctionId: r.correctionId }, 'pending image fetched');
    }
  }

  private async reject(raw: Buffer, topic: string, err: LoupeError): Promise<void> {
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.json`;
    const file = join('rejected', name);
    await this.writeAtomic(file, raw);
    this.counts.rejected++;
    this.deps.log.error({ code: err.code, topic, file }, `${err.message}; kept as ${file}`);
    this.emit('rejected', { code: err.code, message: err.message, file });
  }

  /** Temp file, fsync, rename: a crash leaves the whole file or none. */
  private async writeAtomic(rel: string, data: Buffer): Promise<void> {
    const target = join(this.cfg.outDir, rel);
    const tmp = join(this.cfg.outDir, '.tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(join(target, '..'), { recursive: true });
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_UPLINK_SINK_WRITE', `cannot write ${target}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** The message is not acknowledged: drop the connection so the broker delivers it again after the backoff. */
  private onStoreFailure(client: MqttClient, err: unknown, done: (err?: Error) => void): void {
    const code = isLoupeError(err) ? err.code : 'LOUPE_ERR_UPLINK_SINK_WRITE';
    this.deps.log.error({ code, err: errorMessage(err) }, `correction not stored (${errorMessage(err)}); not acknowledged, the broker will deliver it again`);
    done(err instanceof Error ? err : new Error(String(err)));
    client.end(true);
  }

  private logStats(): void {
    const s = this.stats();
    const key = JSON.stringify(s);
    if (key === this.loggedCounts) return;
    this.loggedCounts = key;
    this.deps.log.info(s, `dataset sink: ${s.received} new, ${s.duplicates} duplicates, ${s.rejected} rejected since start; ${s.total} on file`);
  }

  private requireIndex(): ReceivedIndex {
    if (!this.index) throw new LoupeError('LOUPE_ERR_UPLINK_SINK_WRITE', 'dataset sink is not started');
    return this.index;
  }
}

/** Stable split per correction id: a correction never moves between train and test as the dataset grows. */
export function splitOf(correctionId: string, valPercent: number, testPercent: number): Split {
  const bucket = createHash('sha256').update(correctionId).digest().readUInt32BE(0) % 100;
  if (bucket < testPercent) return 'test';
  if (bucket < testPercent + valPercent) return 'val';
  return 'train';
}

function safeName(s: string): string {
  return SAFE.test(s) ? s : createHash('sha256').update(s).digest('hex').slice(0, 32);
}

function packSpecOf(cfg: DatasetSinkConfig): PackSpec {
  if (cfg.modelPath === null) {
    return { width: cfg.widthPx, height: cfg.heightPx, heatMapWidth: cfg.heatMapWidth, heatMapHeight: cfg.heatMapHeight, labels: cfg.labels, goodLabel: cfg.goodLabel };
  }
  const m = loadModelPackage(cfg.modelPath).manifest;
  return {
    width: m.input.width,
    height: m.input.height,
    heatMapWidth: cfg.heatMapWidth,
    heatMapHeight: cfg.heatMapHeight,
    labels: cfg.labels ?? m.labels,
    goodLabel: m.goodLabel,
  };
}
