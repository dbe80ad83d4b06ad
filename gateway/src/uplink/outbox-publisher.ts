import type { IConnackPacket, IPublishPacket, MqttClient, Packet } from 'mqtt';
import type { Logger } from 'pino';
import { errorMessage, type ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ImageStore } from '../store/images.js';
import type { Outbox, OutboxMessage } from '../store/outbox.js';
import { Backoff } from './backoff.js';
import { reasonName } from './broker-errors.js';
import type { LinkError } from './broker-link.js';
import { attachImage, loadImage, type AttachOptions } from './image-attachment.js';
import { messageKinds, unknownKind } from './message-kinds.js';
import { Throttle } from './throttle.js';

export interface PublisherOptions {
  qos: 1 | 2;
  maxMessagesPerS: number;
  maxInFlight: number;
  pollIntervalMs: number;
  holdWithoutSubscribers: boolean;
  protocolVersion: 5 | '3.1.1';
  /** Image transfer; `baseUrl` null until the HTTP server listens (references wait for it). */
  image: () => Omit<AttachOptions, 'baseUrl'> & { baseUrl: string | null };
  topic: (station: string, kind: string) => string;
}

/** PUBACK reason: the broker took the message but no subscription matched it. */
const NO_MATCHING_SUBSCRIBERS = 0x10;
/** Acknowledged rows are deleted in batches: one disk sync per batch, not per message. */
const ACK_FLUSH_MS = 500;
const ACK_FLUSH_ROWS = 500;
/** Rows read from SQLite per query. */
const PEEK_ROWS = 64;
/** Give up reading an image after this many failed attempts, and send the correction without it. */
const IMAGE_READ_ATTEMPTS = 5;

interface Sent {
  row: OutboxMessage;
  topic: string;
  startedAt: number;
}

/**
 * Drains the outbox to the broker, oldest first: QoS 1 (or 2), a window of
 * messages in flight, paced by a token bucket. A row is deleted only after
 * the broker acknowledged it; whatever was in flight when a connection
 * dropped (or the process died) is sent again on the next one, so a consumer
 * may see a message twice and dedupes on its id, but never misses one.
 *
 * A message the broker refuses (MQTT 5 reason code) stays queued and is
 * retried with backoff: ACLs get fixed, quotas recover; nothing is skipped.
 */
export class OutboxPublisher {
  /** Bumped per connection: callbacks from an older connection are ignored. */
  private generation = 0;
  private client: MqttClient | null = null;
  private cursor = 0;
  private window = 1;
  private maxPacketBytes = Number.POSITIVE_INFINITY;
  private readonly inFlight = new Map<number, Sent>();
  private readonly noSubscriber = new Set<number>();
  private acked: number[] = [];
  private ackTimer: NodeJS.Timeout | null = null;
  private wakeUp: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private retryFrom: number | null = null;
  /** One message at a time until the broker accepted one on this connection (or since a refusal): keeps order. */
  private probing = true;
  private lastRefusal: number | string | null = null;
  private warnedUnheard = false;
  private pausedUntil = 0;
  private readonly refusalBackoff: Backoff;
  private readonly throttle: Throttle;
  private stopped = false;
  private _published = 0;
  private _lastPublishedAt: Date | null = null;
  private _lastError: LinkError | null = null;
  private drainStarted: { at: number; count: number; published: number } | null = null;

  constructor(
    private readonly opts: PublisherOptions,
    private readonly deps: { outbox: Outbox; images: ImageStore; metrics: Metrics; log: Logger },
  ) {
    this.throttle = new Throttle(opts.maxMessagesPerS);
    this.refusalBackoff = new Backoff({ minMs: 1000, maxMs: 60_000, jitterRatio: 0.3 });
  }

  get published(): number {
    return this._published;
  }

  get lastPublishedAt(): Date | null {
    return this._lastPublishedAt;
  }

  /** Last refused message or unreadable image; cleared once the queue moves again. */
  get lastError(): LinkError | null {
    return this._lastError;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** A connection is up: start (again) from the oldest row still queued. */
  online(client: MqttClient, connack: IConnackPacket): void {
    this.detach();
    const generation = ++this.generation;
    this.client = client;
    this.cursor = 0;
    this.retryFrom = null;
    this.probing = true;
    this.warnedUnheard = false;
    this.noSubscriber.clear();
    const props = connack.properties;
    this.window = Math.max(1, Math.min(this.opts.maxInFlight, props?.receiveMaximum ?? Number.POSITIVE_INFINITY));
    this.maxPacketBytes = props?.maximumPacketSize ?? Number.POSITIVE_INFINITY;
    client.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'puback' && p.reasonCode === NO_MATCHING_SUBSCRIBERS && p.messageId !== undefined) this.noSubscriber.add(p.messageId);
    });
    const backlog = this.deps.outbox.backlog();
    this.drainStarted = backlog.count > 0 ? { at: Date.now(), count: backlog.count, published: this._published } : null;
    if (backlog.count > 0) this.deps.log.info({ backlog: backlog.count, oldestAgeS: Math.round(backlog.oldestAgeMs / 1000) }, `draining ${backlog.count} queued message${backlog.count === 1 ? '' : 's'}`);
    this.loopDone = this.loop(generation);
  }

  /** The connection is gone: what was in flight stays in the outbox for the next one. */
  offline(): void {
    this.detach();
    this.flushAcks();
  }

  /** New rows were queued: look now instead of at the next poll. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Let messages in flight be acknowledged (bounded), record their acks, stop sending. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.wake();
    const until = Date.now() + graceMs;
    while (this.inFlight.size > 0 && this.client !== null && Date.now() < until) await sleep(10);
    this.detach();
    await this.loopDone;
    this.flushAcks();
  }

  private detach(): void {
    this.generation++;
    this.client = null;
    this.inFlight.clear();
    this.wake();
  }

  private async loop(generation: number): Promise<void> {
    const live = () => generation === this.generation && !this.stopped;
    while (live()) {
      if (this.retryFrom !== null) {
        // After a refusal: once nothing is in flight, go back to the refused row and wait out the backoff.
        if (this.inFlight.size > 0) {
          await this.idle(this.opts.pollIntervalMs);
          continue;
        }
        this.cursor = this.retryFrom - 1;
        this.retryFrom = null;
      }
      const pause = this.pausedUntil - Date.now();
      if (pause > 0) {
        await this.idle(pause);
        continue;
      }
      const window = this.probing ? 1 : this.window;
      if (this.inFlight.size >= window) {
        await this.idle(this.opts.pollIntervalMs);
        continue;
      }
      const rows = this.deps.outbox.peek(Math.min(PEEK_ROWS, window - this.inFlight.size), this.cursor);
      if (rows.length === 0) {
        this.reportDrained();
        await this.idle(this.opts.pollIntervalMs);
        continue;
      }
      for (const row of rows) {
        for (let wait = this.throttle.take(); wait > 0; wait = this.throttle.take()) await sleep(wait);
        if (!live()) return;
        let message: { topic: string; payload: Buffer };
        try {
          message = await this.build(row);
        } catch (err) {
          // A transient read error: the row stays, the queue waits (it is in order) and tries again.
          const message = `cannot prepare ${row.kind} ${row.messageId}: ${errorMessage(err)}; retrying`;
          this.deps.outbox.recordAttempt(row.seq, message);
          if (this._lastError?.message !== message) this.deps.log.warn({ seq: row.seq, messageId: row.messageId }, message);
          this._lastError = { code: 'LOUPE_ERR_UPLINK_IMAGE', message, at: new Date() };
          this.pausedUntil = Date.now() + this.refusalBackoff.next();
          break;
        }
        if (!live()) return;
        this.send(generation, row, message);
        this.cursor = row.seq;
      }
    }
  }

  private async build(row: OutboxMessage): Promise<{ topic: string; payload: Buffer }> {
    const kind = messageKinds[row.kind] ?? unknownKind;
    const { imageRef, ...stored } = (row.payload ?? {}) as Record<string, unknown> & { imageRef?: string | null };
    const topic = this.opts.topic(row.station, row.kind);
    if (!kind.attachesImage) return { topic, payload: Buffer.from(JSON.stringify(stored)) };

    const img = this.opts.image();
    const inspectionId = String(stored[kind.inspectionIdField] ?? row.inspectionId ?? '');
    let loaded: Awaited<ReturnType<typeof loadImage>> | { missing: 'unreadable' };
    try {
      loaded = await loadImage(this.deps.images, imageRef ?? null);
    } catch (err) {
      if (row.attempts + 1 < IMAGE_READ_ATTEMPTS) throw err;
      this.deps.log.error({ messageId: row.messageId, imageRef, err: errorMessage(err) }, `image of ${row.kind} ${row.messageId} unreadable after ${IMAGE_READ_ATTEMPTS} attempts: sending it without the image`);
      loaded = { missing: 'unreadable' } as const;
    }
    const needsUrl = !('missing' in loaded) && (img.mode === 'reference' || loaded.data.length > img.inlineMaxBytes);
    if (needsUrl && img.baseUrl === null) throw new Error('the gateway URL for image references is not known yet');
    const opts = { ...img, baseUrl: img.baseUrl ?? '' };
    let payload = Buffer.from(JSON.stringify({ ...stored, image: attachImage(loaded, inspectionId, opts) }));
    // Stay under the broker's advertised packet limit: a packet over it would get the connection dropped.
    if (payload.length + topic.length + 64 > this.maxPacketBytes && !('missing' in loaded)) {
      if (img.baseUrl === null) throw new Error('the gateway URL for image references is not known yet');
      payload = Buffer.from(JSON.stringify({ ...stored, image: attachImage(loaded, inspectionId, opts, 'over-broker-limit') }));
    }
    return { topic, payload };
  }

  private send(generation: number, row: OutboxMessage, message: { topic: string; payload: Buffer }): void {
    const client = this.client;
    if (!client) return;
    const sent: Sent = { row, topic: message.topic, startedAt: performance.now() };
    this.inFlight.set(row.seq, sent);
    const properties =
      this.opts.protocolVersion === 5
        ? { contentType: 'application/json', payloadFormatIndicator: true, userProperties: { messageId: row.messageId, kind: row.kind } }
        : undefined;
    client.publish(message.topic, message.payload, { qos: this.opts.qos, ...(properties ? { properties } : {}) }, (err, packet) => {
      if (generation !== this.generation) return;
      this.inFlight.delete(row.seq);
      const messageId = (packet as IPublishPacket | undefined)?.messageId;
      const unheard = messageId !== undefined && this.noSubscriber.delete(messageId);
      if (err) this.refused(sent, err as Error & { code?: number });
      else if (unheard && this.opts.holdWithoutSubscribers) this.refused(sent, Object.assign(new Error('no subscriber matched'), { code: NO_MATCHING_SUBSCRIBERS }));
      else this.delivered(sent, unheard);
      this.wake();
    });
  }

  private delivered(s: Sent, unheard: boolean): void {
    this.probing = false;
    this.acked.push(s.row.seq);
    if (this.acked.length >= ACK_FLUSH_ROWS) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), ACK_FLUSH_MS);
    this._published++;
    this._lastPublishedAt = new Date();
    this.deps.metrics.uplinkPublished.inc({ kind: s.row.kind });
    this.deps.metrics.uplinkAckSeconds.observe((performance.now() - s.startedAt) / 1000);
    if (unheard && !this.warnedUnheard) {
      this.warnedUnheard = true;
      this.deps.log.warn(
        { topic: s.topic, messageId: s.row.messageId },
        `broker accepted ${s.row.kind} ${s.row.messageId} but no subscriber matched ${s.topic}: the broker dropped it (uplink.holdWithoutSubscribers is false); subscribe the dataset sink with a persistent session`,
      );
    }
    if (this._lastError?.code === 'LOUPE_ERR_UPLINK_REFUSED' || this._lastError?.code === 'LOUPE_ERR_UPLINK_IMAGE') {
      this.deps.log.info({ messageId: s.row.messageId }, 'uplink queue moving again');
      this._lastError = null;
      this.lastRefusal = null;
      this.refusalBackoff.reset();
    }
  }

  private refused(s: Sent, err: Error & { code?: number }): void {
    const news = this.lastRefusal !== (err.code ?? err.message) || this._lastError?.code !== 'LOUPE_ERR_UPLINK_REFUSED';
    this.lastRefusal = err.code ?? err.message;
    const reason = typeof err.code === 'number' ? reasonName(err.code) : err.message;
    const code: ErrorCode = 'LOUPE_ERR_UPLINK_REFUSED';
    const hint =
      err.code === NO_MATCHING_SUBSCRIBERS
        ? 'start a dataset sink (or another subscriber) for this topic'
        : err.code === 0x87
          ? `allow this client to publish to ${s.topic} in the broker's ACL`
          : 'the message stays queued and is retried';
    const message = `broker refused ${s.row.kind} ${s.row.messageId} on ${s.topic} (${reason}): ${hint}`;
    this.deps.outbox.recordAttempt(s.row.seq, message);
    this.deps.metrics.uplinkErrors.inc({ code });
    this._lastError = { code, message, at: new Date() };
    // No subscriber yet is expected for a moment after a broker restart; a real refusal needs a person.
    if (news) this.deps.log[err.code === NO_MATCHING_SUBSCRIBERS ? 'warn' : 'error']({ code, seq: s.row.seq, messageId: s.row.messageId, reasonCode: err.code }, message);
    this.retryFrom = Math.min(this.retryFrom ?? Number.POSITIVE_INFINITY, s.row.seq);
    this.probing = true;
    this.pausedUntil = Date.now() + this.refusalBackoff.next();
  }

  private flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.acked.length === 0) return;
    const seqs = this.acked;
    this.acked = [];
    try {
      this.deps.outbox.removeMany(seqs);
    } catch (err) {
      // The broker has them; if the rows cannot be deleted they are sent again later, and consumers dedupe.
      this.deps.log.error({ err: errorMessage(err), rows: seqs.length }, 'cannot delete acknowledged outbox rows; they will be sent again');
    }
  }

  private reportDrained(): void {
    if (this.drainStarted === null || this.inFlight.size > 0) return;
    const s = this.drainStarted;
    this.drainStarted = null;
    const seconds = (Date.now() - s.at) / 1000;
    const sent = this._published - s.published;
    this.deps.log.info({ published: sent, seconds: Math.round(seconds * 10) / 10, perSecond: Math.round(sent / Math.max(seconds, 0.001)) }, `outbox drained: ${sent} messages in ${seconds.toFixed(1)} s`);
  }

  /** Sleep until woken (new rows, an ack, a stop) or `ms` passed. One sleeper at a time: the loop. */
  private idle(ms: number): Promise<void> {
    this.wake();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
