import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type IConnackPacket, type IDisconnectPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { redactUrl } from '../camera/redact-url.js';
import type { BrokerConnectionConfig } from '../config/sections/uplink.js';
import { errorMessage, LoupeError, type ErrorCode } from '../errors.js';
import { Backoff } from './backoff.js';
import { classifyConnectionError, classifyDisconnect, type ConfigHints, type ConnectionFacts } from './broker-errors.js';

export type LinkState = 'connecting' | 'online' | 'offline' | 'stopped';

export interface LinkError {
  code: ErrorCode;
  message: string;
  at: Date;
}

export interface BrokerLinkEvents {
  /** A connection is up (CONNACK accepted). The client is valid until `offline`. */
  online: [MqttClient, IConnackPacket];
  /** The connection is gone; a reconnect is scheduled unless stopped. */
  offline: [];
}

/** A connection that stayed up this long was healthy: the next outage starts the backoff afresh. */
const STABLE_MS = 10_000;
/** Unexplained closes right after connecting before the link calls it a client id clash. */
const QUICK_DROPS = 3;
/** While the broker stays away, repeat the (already logged) reason this often, at warn level. */
const REMIND_MS = 10 * 60_000;

/**
 * One MQTT connection to the plant broker, kept up for as long as the
 * process runs: a fresh client per attempt, reconnects with backoff and
 * jitter, and a failure logged once when it starts (not at every retry), so
 * an unreachable broker or refused password reads as one clear line.
 *
 * Each attempt gets a new mqtt.js client with its own reconnects disabled:
 * what was in flight on a dropped connection is the owner's to resend (the
 * outbox is the store of record), never a second, in-memory copy.
 */
export class BrokerLink extends EventEmitter<BrokerLinkEvents> {
  private client: MqttClient | null = null;
  private onlineClient: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;
  private readonly tls: Pick<IClientOptions, 'ca' | 'cert' | 'key'>;
  private _state: LinkState = 'connecting';
  private _lastError: LinkError | null = null;
  private failuresSinceOnline = 0;
  private downSince: number | null = null;
  private lastRemindAt = 0;
  private connectedAt: number | null = null;
  /** The failure last logged at warn/error, kept across reconnects so a flapping link logs it once. */
  private lastLogged: { code: ErrorCode; message: string } | null = null;
  /** The current outage was logged: its end is worth a line too. */
  private outageLogged = false;
  /** Connections the broker closed, without a reason, soon after accepting them. */
  private quickDrops = 0;
  readonly facts: ConnectionFacts;

  constructor(
    private readonly cfg: BrokerConnectionConfig,
    private readonly deps: {
      clientId: string;
      log: Logger;
      hints: ConfigHints;
      /** Will, properties, clean flag: evaluated before each attempt (the will carries the attempt's time). */
      connectOptions?: () => Partial<IClientOptions>;
      /** Called with each new client before it connects (message handlers go here). */
      prepare?: (client: MqttClient) => void;
      /** Count a failure (metrics). */
      onError?: (code: ErrorCode) => void;
      random?: () => number;
    },
  ) {
    super();
    this.facts = { url: redactUrl(cfg.brokerUrl), username: cfg.username, clientId: deps.clientId, protocolVersion: cfg.protocolVersion };
    this.backoff = new Backoff({ minMs: cfg.reconnectMinMs, maxMs: cfg.reconnectMaxMs, jitterRatio: cfg.reconnectJitterRatio }, deps.random);
    this.tls = readTlsFiles(cfg, deps.hints);
  }

  get state(): LinkState {
    return this._state;
  }

  get lastError(): LinkError | null {
    return this._lastError;
  }

  /** The connected client, or null while offline. */
  get current(): MqttClient | null {
    return this.onlineClient;
  }

  /** When the current connection came up. */
  get onlineSince(): Date | null {
    return this.connectedAt === null ? null : new Date(this.connectedAt);
  }

  start(): void {
    if (this._state === 'stopped' || this.client !== null) return;
    this.attempt();
  }

  /**
   * Close for good. `farewell` runs first while still connected (a retained
   * offline status, say), bounded by `graceMs`; then a clean DISCONNECT, so
   * the broker does not publish the Last Will.
   */
  async stop(farewell?: (client: MqttClient) => Promise<void>, graceMs = 2000): Promise<void> {
    if (this._state === 'stopped') return;
    this._state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    const wasOnline = this.onlineClient !== null;
    this.client = null;
    this.onlineClient = null;
    if (!client) return;
    if (wasOnline && farewell) {
      await withTimeout(farewell(client).catch((err: unknown) => this.deps.log.debug({ err: errorMessage(err) }, 'farewell message not sent')), graceMs);
    }
    await withTimeout(client.endAsync(!wasOnline).catch(() => undefined), graceMs);
    // A clean end still waiting (a broker that stopped answering) must not keep the process alive.
    client.stream?.destroy();
    this.deps.log.debug('broker connection closed');
  }

  private attempt(): void {
    this.timer = null;
    if (this._state === 'stopped') return;
    this._state = this.onlineClient === null && this.failuresSinceOnline > 0 ? 'offline' : 'connecting';
    const extra = this.deps.connectOptions?.() ?? {};
    const v5 = this.cfg.protocolVersion === 5;
    const options: IClientOptions = {
      clientId: this.deps.clientId,
      protocolVersion: v5 ? 5 : 4,
      keepalive: this.cfg.keepaliveS,
      connectTimeout: this.cfg.connectTimeoutMs,
      // Reconnects are ours (backoff with jitter), and so is what was in flight.
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      clean: false,
      ...(this.cfg.username !== null ? { username: this.cfg.username } : {}),
      ...(this.cfg.password !== null ? { password: this.cfg.password } : {}),
      ...this.tls,
      rejectUnauthorized: this.cfg.tls.rejectUnauthorized,
      ...(this.cfg.tls.serverName !== null ? { servername: this.cfg.tls.serverName } : {}),
      ...extra,
      properties: v5 ? { sessionExpiryInterval: this.cfg.sessionExpiryS, ...(extra.properties ?? {}) } : undefined,
    };
    const client = connect(this.cfg.brokerUrl, { ...options, manualConnect: true });
    this.deps.prepare?.(client);
    client.connect();
    this.client = client;
    let failure: LoupeError | null = null;
    let wasOnline = false;

    client.on('connect', (connack) => {
      if (this.client !== client) return;
      wasOnline = true;
      this.onlineClient = client;
      this.connectedAt = Date.now();
      this._state = 'online';
      const after = this.failuresSinceOnline;
      const downMs = this.downSince === null ? 0 : Date.now() - this.downSince;
      this.failuresSinceOnline = 0;
      this.downSince = null;
      const line = { broker: this.facts.url, clientId: this.deps.clientId, protocol: this.cfg.protocolVersion, sessionPresent: connack.sessionPresent };
      if (this.outageLogged) {
        this.deps.log.info({ ...line, failedAttempts: after, downS: Math.round(downMs / 1000) }, `connected to ${this.facts.url} after ${after} failed attempt${after === 1 ? '' : 's'}`);
      } else {
        this.deps.log[this.lastLogged === null ? 'info' : 'debug'](line, `connected to ${this.facts.url}`);
      }
      this.outageLogged = false;
      this._lastError = null;
      this.emit('online', client, connack);
    });

    client.on('error', (err) => {
      failure = classifyConnectionError(err as Error & { code?: string | number }, this.facts, this.deps.hints);
    });

    client.on('disconnect', (packet: IDisconnectPacket) => {
      if (packet.reasonCode !== undefined && packet.reasonCode !== 0) failure = classifyDisconnect(packet.reasonCode, this.facts, this.deps.hints);
    });

    client.on('close', () => {
      if (this.client !== client) return;
      this.client = null;
      // No further events from this client matter; keep an error listener so a late one is not thrown.
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end(true);
      let heldMs = 0;
      if (wasOnline) {
        this.onlineClient = null;
        heldMs = Date.now() - (this.connectedAt ?? Date.now());
        this.connectedAt = null;
        if (heldMs >= STABLE_MS) {
          this.backoff.reset();
          this.quickDrops = 0;
        } else if (failure === null) {
          this.quickDrops++;
        }
        // Mosquitto closes a session taken over by another client without saying so (no DISCONNECT
        // reason); a connection closed again and again right after it was accepted is the tell.
        if (failure === null && this.quickDrops >= QUICK_DROPS) {
          failure = new LoupeError(
            'LOUPE_ERR_UPLINK_CLIENT_ID',
            `broker ${this.facts.url} keeps closing the connection right after accepting it: another client probably uses client id "${this.deps.clientId}"; give every gateway and sink its own ${this.deps.hints.keyPrefix}clientId`,
          );
        }
        failure ??= new LoupeError('LOUPE_ERR_UPLINK_CONNECT', `connection to ${this.facts.url} lost; reconnecting`);
        this.emit('offline');
      }
      if (this._state === 'stopped') return;
      this.noteFailure(failure ?? new LoupeError('LOUPE_ERR_UPLINK_CONNECT', `broker ${this.facts.url} closed the connection before accepting it; retrying`), heldMs);
      const wait = this.backoff.next();
      this._state = 'offline';
      this.timer = setTimeout(() => this.attempt(), wait);
      this.timer.unref();
    });
  }

  /**
   * Log a failure when it is news: a different reason than the last one
   * logged, or the first after a connection that held. A link that flaps
   * (two gateways with one client id, a broker that drops every few seconds)
   * gives one line, then a reminder every 10 minutes, not a line per drop.
   */
  private noteFailure(err: LoupeError, heldMs: number): void {
    this.failuresSinceOnline++;
    this.downSince ??= Date.now();
    this.deps.onError?.(err.code);
    this._lastError = { code: err.code, message: err.message, at: new Date() };
    const news = heldMs >= STABLE_MS || this.lastLogged?.code !== err.code || this.lastLogged.message !== err.message;
    const line = { code: err.code, broker: this.facts.url, attempt: this.failuresSinceOnline };
    if (news) {
      // A refusal needs a person; a network outage is expected on a plant floor and heals itself.
      const level = err.code === 'LOUPE_ERR_UPLINK_CONNECT' ? 'warn' : 'error';
      this.deps.log[level](line, err.message);
      this.lastLogged = { code: err.code, message: err.message };
      this.lastRemindAt = Date.now();
      this.outageLogged = true;
    } else if (Date.now() - this.lastRemindAt >= REMIND_MS) {
      this.deps.log.warn({ ...line, downS: Math.round((Date.now() - (this.downSince ?? Date.now())) / 1000) }, `still failing: ${err.message}`);
      this.lastRemindAt = Date.now();
    } else {
      this.deps.log.debug(line, err.message);
    }
  }
}

function readTlsFiles(cfg: BrokerConnectionConfig, hints: ConfigHints): Pick<IClientOptions, 'ca' | 'cert' | 'key'> {
  const read = (file: string | null, key: string): Buffer | undefined => {
    if (file === null) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_UPLINK_TLS', `${hints.keyPrefix}tls.${key}: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}), expected a readable PEM file`, { cause: err });
    }
  };
  const ca = read(cfg.tls.caFile, 'caFile');
  const cert = read(cfg.tls.certFile, 'certFile');
  const key = read(cfg.tls.keyFile, 'keyFile');
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    void p.then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
