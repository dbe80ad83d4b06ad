import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { LinkStatus } from '../api/context.js';
import { packageRoot } from '../cli/paths.js';
import type { UplinkConfig } from '../config/sections/uplink.js';
import { errorMessage } from '../errors.js';
import type { Inspection } from '../inspect/inspection.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { BrokerLink, type LinkError } from './broker-link.js';
import type { Origin } from './correction-payload.js';
import { inspectionPayload } from './inspection-payload.js';
import { ALARM_VALUE, budgetLevel, describeBacklog, type AlarmLevel, type Backlog, type BudgetLimits } from './outbox-budget.js';
import { OutboxPublisher } from './outbox-publisher.js';
import { gatewayTopic, stationTopic, type TopicOrigin } from './topics.js';
import type { MetricsWire, StatusWire } from './wire-payloads.js';

/** What the HMI and the API show about the uplink. */
export interface UplinkStatus {
  enabled: boolean;
  state: 'disabled' | 'connecting' | 'online' | 'offline' | 'stopped';
  /** Broker address without credentials; null when disabled. */
  broker: string | null;
  clientId: string;
  /** Messages in the outbox waiting for the broker. */
  backlog: number;
  /** Age of the oldest of them, ms (0 when empty). */
  oldestAgeMs: number;
  /** Outbox budget alarm. */
  alarm: AlarmLevel;
  /** The reason the uplink is not delivering, if any (connection, refusal, budget). */
  lastError: { code: string; message: string; at: string } | null;
  connectedSince: string | null;
  lastPublishedAt: string | null;
  /** Messages acknowledged since start. */
  published: number;
  inFlight: number;
}

export interface UplinkDeps {
  origin: Origin;
  stations: readonly string[];
  store: Store;
  metrics: Metrics;
  log: Logger;
  /** The HTTP server's URL (for image references when imageBaseUrl is not set); null before it listens. */
  publicUrl: () => string | null;
  /** How often the backlog is measured against its budget. Default 5000 ms. */
  checkEveryMs?: number;
  random?: () => number;
  /** Messages the gateway takes from the broker (model packages): subscribed on every connection. */
  inbound?: InboundHandler;
}

/** A receiver of messages on topics the gateway subscribes to (QoS 1; acknowledged when `handle` resolves). */
export interface InboundHandler {
  filters(): string[];
  handle(topic: string, payload: Buffer): Promise<void>;
  /** The broker granted the subscription (after every connect). */
  subscribed?(filters: string[]): void;
}

/**
 * The gateway's side of the corrections uplink: the broker link, the outbox
 * publisher, the retained status with its Last Will, periodic metrics,
 * inspection sampling and the outbox budget alarm. Built and wired by the
 * composition root; with `enabled: false` only the budget watch runs (the
 * outbox still fills, and someone must know).
 */
export class Uplink {
  private readonly link: BrokerLink | null;
  private readonly publisher: OutboxPublisher | null;
  private readonly topics: TopicOrigin;
  private readonly limits: BudgetLimits;
  private readonly clientId: string;
  private readonly software = softwareVersion();
  private checkTimer: NodeJS.Timeout | null = null;
  private metricsTimer: NodeJS.Timeout | null = null;
  private backlogNow: Backlog = { count: 0, oldestAgeMs: 0 };
  private alarm: AlarmLevel = 'ok';
  private budgetError: LinkError | null = null;
  private samplesSkipped = 0;
  private stopped = false;

  constructor(
    private readonly cfg: UplinkConfig,
    private readonly deps: UplinkDeps,
  ) {
    const { origin } = deps;
    this.topics = { root: cfg.topicRoot, site: origin.site, line: origin.line };
    this.clientId = cfg.clientId ?? `loupe-${origin.site}-${origin.line}-${origin.gatewayId}`;
    this.limits = { maxRows: cfg.outboxMaxRows, maxAgeMs: cfg.outboxMaxAgeH * 3_600_000, warnRatio: cfg.outboxWarnRatio };
    if (!cfg.enabled) {
      this.link = null;
      this.publisher = null;
      return;
    }
    this.link = new BrokerLink(cfg, {
      clientId: this.clientId,
      log: deps.log,
      hints: { keyPrefix: 'uplink.', passwordEnv: 'LOUPE__UPLINK__PASSWORD' },
      connectOptions: () => this.connectOptions(),
      onError: (code) => deps.metrics.uplinkErrors.inc({ code }),
      ...(deps.random ? { random: deps.random } : {}),
      ...(deps.inbound ? { prepare: (client: MqttClient) => this.receiveInbound(client) } : {}),
    });
    this.publisher = new OutboxPublisher(
      {
        qos: cfg.qos,
        maxMessagesPerS: cfg.maxMessagesPerS,
        maxInFlight: cfg.maxInFlight,
        pollIntervalMs: cfg.pollIntervalMs,
        holdWithoutSubscribers: cfg.holdWithoutSubscribers,
        protocolVersion: cfg.protocolVersion,
        image: () => ({ mode: cfg.imageMode, inlineMaxBytes: cfg.imageInlineMaxKb * 1024, baseUrl: cfg.imageBaseUrl ?? deps.publicUrl() }),
        topic: (station, kind) => stationTopic(this.topics, station, kind),
      },
      { outbox: deps.store.outbox, images: deps.store.images, metrics: deps.metrics, log: deps.log },
    );
    this.link.on('online', (client, connack) => {
      deps.metrics.uplinkConnected.set(1);
      this.publishStatus(client, 'online', 'connected');
      this.publisher?.online(client, connack);
      this.scheduleMetrics();
      this.subscribeInbound(client);
    });
    this.link.on('offline', () => {
      deps.metrics.uplinkConnected.set(0);
      this.publisher?.offline();
      if (this.metricsTimer) clearInterval(this.metricsTimer);
      this.metricsTimer = null;
    });
  }

  /** Connect (when enabled) and start watching the outbox budget. Call after the store opened. */
  start(): void {
    this.checkBudget();
    this.checkTimer = setInterval(() => this.checkBudget(), this.deps.checkEveryMs ?? 5000);
    this.checkTimer.unref();
    if (this.link) {
      this.deps.log.info({ broker: this.link.facts.url, clientId: this.clientId, protocol: this.cfg.protocolVersion, qos: this.cfg.qos }, `uplink to ${this.link.facts.url}`);
      const own = this.deps.publicUrl();
      if (this.cfg.imageBaseUrl === null && own !== null && /\/\/(0\.0\.0\.0|\[::\])[:/]/.test(own)) {
        this.deps.log.warn({ url: own }, `images sent by reference would point at ${own}, which no consumer can reach: set uplink.imageBaseUrl to this gateway's address on the plant network`);
      }
      this.link.start();
    } else if (this.backlogNow.count > 0) {
      this.deps.log.warn({ backlog: this.backlogNow.count }, `uplink disabled: ${this.backlogNow.count} messages stay in the outbox until uplink.enabled is true`);
    }
  }

  /**
   * Stop before the store closes: wait briefly for acknowledgements in flight,
   * publish the retained `offline` status and disconnect cleanly (no Last Will).
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.checkTimer) clearInterval(this.checkTimer);
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    this.checkTimer = null;
    this.metricsTimer = null;
    await this.publisher?.stop(graceMs);
    await this.link?.stop((client) => this.publishStatusAsync(client, 'offline', 'stopped'), graceMs);
    this.deps.metrics.uplinkConnected.set(0);
  }

  /** New rows in the outbox (a decision was committed): send now rather than at the next poll. */
  wake(): void {
    this.publisher?.wake();
  }

  /**
   * Queue an `inspection` message for a sampled share of inspections. Never
   * while the outbox is over budget: samples yield to corrections.
   */
  sample(i: Inspection): void {
    if (!this.publisher || this.cfg.inspectionSampleRate === 0 || this.stopped) return;
    if (unitHash(i.id) >= this.cfg.inspectionSampleRate) return;
    if (this.alarm === 'full') {
      this.samplesSkipped++;
      this.deps.metrics.uplinkSamplesSkipped.inc();
      if (this.samplesSkipped === 1) this.deps.log.warn('outbox over budget: sampled inspections are not queued until it drains (corrections still are)');
      return;
    }
    try {
      this.deps.store.outbox.enqueue({ messageId: i.id, kind: 'inspection', station: i.station, inspectionId: i.id, payload: inspectionPayload(this.deps.origin, i) });
      this.publisher.wake();
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err), inspection: i.id }, 'cannot queue a sampled inspection');
    }
  }

  status(): UplinkStatus {
    const backlog = this.deps.store.outbox.backlog();
    const link = this.link;
    const lastError = [link?.lastError, this.publisher?.lastError, this.budgetError]
      .filter((e): e is LinkError => e !== null && e !== undefined)
      .sort((a, b) => b.at.getTime() - a.at.getTime())[0];
    return {
      enabled: this.cfg.enabled,
      state: link === null ? 'disabled' : link.state,
      broker: link?.facts.url ?? null,
      clientId: this.clientId,
      backlog: backlog.count,
      oldestAgeMs: backlog.oldestAgeMs,
      alarm: budgetLevel(backlog, this.limits),
      lastError: lastError ? { code: lastError.code, message: lastError.message, at: lastError.at.toISOString() } : null,
      connectedSince: link?.onlineSince?.toISOString() ?? null,
      lastPublishedAt: this.publisher?.lastPublishedAt?.toISOString() ?? null,
      published: this.publisher?.published ?? 0,
      inFlight: this.publisher?.inFlightCount ?? 0,
    };
  }

  /** A live view for /readyz and the HMI's link list (reads current state on every access). */
  linkStatus(): LinkStatus {
    const self = this;
    return {
      name: 'uplink',
      get state() {
        return self.linkState().state;
      },
      get detail() {
        return self.linkState().detail;
      },
    };
  }

  private linkState(): Pick<LinkStatus, 'state' | 'detail'> {
    const b = this.backlogNow;
    const queued = `${b.count} message${b.count === 1 ? '' : 's'} queued`;
    if (!this.link) return { state: 'disabled', detail: `uplink.enabled is false; ${queued}` };
    if (this.link.state !== 'online') return { state: 'down', detail: `${this.link.lastError?.message ?? this.link.state}; ${queued}` };
    if (this.alarm !== 'ok' && this.budgetError) return { state: 'degraded', detail: this.budgetError.message };
    const refused = this.publisher?.lastError;
    if (refused) return { state: 'degraded', detail: refused.message };
    return { state: 'ok', detail: `connected to ${this.link.facts.url}; ${queued}` };
  }

  private checkBudget(): void {
    let backlog: Backlog;
    try {
      backlog = this.deps.store.outbox.backlog();
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err) }, 'cannot measure the outbox');
      return;
    }
    this.backlogNow = backlog;
    const { metrics, log } = this.deps;
    metrics.uplinkBacklog.set(backlog.count);
    metrics.uplinkOldestAge.set(backlog.oldestAgeMs / 1000);
    const level = budgetLevel(backlog, this.limits);
    metrics.uplinkAlarm.set(ALARM_VALUE[level]);
    if (level === this.alarm) return;
    const previous = this.alarm;
    this.alarm = level;
    const what = describeBacklog(backlog, this.limits);
    const line = { code: 'LOUPE_ERR_UPLINK_OUTBOX_FULL', backlog: backlog.count, oldestAgeS: Math.round(backlog.oldestAgeMs / 1000) };
    if (level === 'full') {
      const message = `uplink outbox over budget (${what}): corrections are kept, sampled inspections are no longer queued; restore the broker link or raise uplink.outboxMaxRows / outboxMaxAgeH`;
      this.budgetError = { code: 'LOUPE_ERR_UPLINK_OUTBOX_FULL', message, at: new Date() };
      log.error(line, message);
    } else if (level === 'warn') {
      const message = `uplink outbox filling up (${what})`;
      this.budgetError = { code: 'LOUPE_ERR_UPLINK_OUTBOX_FULL', message, at: new Date() };
      if (previous === 'ok') log.warn(line, message);
      else log.info(line, `${message}; back under budget`);
    } else {
      this.budgetError = null;
      this.samplesSkipped = 0;
      log.info({ backlog: backlog.count }, `uplink outbox back within budget (${what})`);
    }
  }

  /** Installed before the client connects: a message is acknowledged only once its handler is done with it. */
  private receiveInbound(client: MqttClient): void {
    const inbound = this.deps.inbound;
    if (!inbound) return;
    client.handleMessage = (packet, done) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      inbound.handle(packet.topic, payload).then(
        () => done(),
        (err: unknown) => {
          // Not acknowledged: the broker sends it again on the next connection (the session persists).
          this.deps.log.error({ err: errorMessage(err), topic: packet.topic }, `message on ${packet.topic} not handled, not acknowledged: ${errorMessage(err)}`);
          done(err instanceof Error ? err : new Error(String(err)));
        },
      );
    };
  }

  private subscribeInbound(client: MqttClient): void {
    const filters = this.deps.inbound?.filters() ?? [];
    if (filters.length === 0) return;
    client.subscribe(filters, { qos: 1 }, (err, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (err || refused.length > 0) {
        this.deps.log.error({ code: 'LOUPE_ERR_UPLINK_REFUSED', filters: refused.length > 0 ? refused : filters }, `broker refused the subscription to ${(refused.length > 0 ? refused : filters).join(', ')}${err ? ` (${errorMessage(err)})` : ''}: allow it in the broker's ACL; models cannot arrive over MQTT until then`);
        return;
      }
      this.deps.log.info({ filters }, `listening for model packages on ${filters.join(', ')}`);
      this.deps.inbound?.subscribed?.(filters);
    });
  }

  private connectOptions(): Partial<IClientOptions> {
    const v5 = this.cfg.protocolVersion === 5;
    return {
      will: {
        topic: gatewayTopic(this.topics, this.deps.origin.gatewayId, 'status'),
        payload: Buffer.from(JSON.stringify(this.statusPayload('offline', 'connection-lost'))),
        qos: 1,
        retain: true,
        ...(v5 ? { properties: { contentType: 'application/json', payloadFormatIndicator: true } } : {}),
      },
    };
  }

  private statusPayload(state: StatusWire['state'], reason: StatusWire['reason']): StatusWire {
    const { origin, stations } = this.deps;
    return {
      schema: 'loupe.status',
      schemaVersion: 1,
      site: origin.site,
      line: origin.line,
      gatewayId: origin.gatewayId,
      state,
      reason,
      at: new Date().toISOString(),
      stations: [...stations],
      software: this.software,
    };
  }

  private publishOptions() {
    return this.cfg.protocolVersion === 5 ? { properties: { contentType: 'application/json', payloadFormatIndicator: true } } : {};
  }

  private publishStatus(client: MqttClient, state: StatusWire['state'], reason: StatusWire['reason']): void {
    this.publishStatusAsync(client, state, reason).catch((err: unknown) => this.deps.log.debug({ err: errorMessage(err) }, 'status not published'));
  }

  private async publishStatusAsync(client: MqttClient, state: StatusWire['state'], reason: StatusWire['reason']): Promise<void> {
    const topic = gatewayTopic(this.topics, this.deps.origin.gatewayId, 'status');
    await client.publishAsync(topic, JSON.stringify(this.statusPayload(state, reason)), { qos: 1, retain: true, ...this.publishOptions() });
  }

  private scheduleMetrics(): void {
    if (this.cfg.metricsIntervalS === 0 || this.metricsTimer) return;
    this.metricsTimer = setInterval(() => {
      const client = this.link?.current;
      if (!client) return;
      this.metricsPayload()
        .then((m) => client.publish(gatewayTopic(this.topics, this.deps.origin.gatewayId, 'metrics'), JSON.stringify(m), { qos: 0, ...this.publishOptions() }))
        .catch((err: unknown) => this.deps.log.debug({ err: errorMessage(err) }, 'metrics not published'));
    }, this.cfg.metricsIntervalS * 1000);
    this.metricsTimer.unref();
  }

  private async metricsPayload(): Promise<MetricsWire> {
    const { origin, stations, metrics } = this.deps;
    const parts = await metrics.parts.get();
    const perStation: MetricsWire['stations'] = Object.fromEntries(stations.map((s) => [s, { parts: {} as Record<string, number> }]));
    for (const v of parts.values) {
      const station = String(v.labels.station ?? '');
      const entry = perStation[station];
      if (entry) entry.parts[String(v.labels.verdict ?? 'unknown')] = v.value;
    }
    const backlog = this.deps.store.outbox.backlog();
    return {
      schema: 'loupe.metrics',
      schemaVersion: 1,
      site: origin.site,
      line: origin.line,
      gatewayId: origin.gatewayId,
      at: new Date().toISOString(),
      uplink: { backlog: backlog.count, oldestAgeS: backlog.oldestAgeMs / 1000, alarm: budgetLevel(backlog, this.limits), published: this.publisher?.published ?? 0 },
      stations: perStation,
    };
  }
}

/** A stable 0..1 draw per id (FNV-1a), so whether a part is sampled does not depend on timing or restarts. */
export function unitHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 0x1_0000_0000;
}

function softwareVersion(): { name: string; version: string } {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return { name: 'loupe', version: pkg.version ?? 'unknown' };
  } catch {
    return { name: 'loupe', version: 'unknown' };
  }
}
