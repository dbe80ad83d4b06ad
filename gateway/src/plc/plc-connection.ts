import { EventEmitter } from 'node:events';
import {
  AttributeIds,
  coerceNodeId,
  DataType,
  MessageSecurityMode,
  OPCUAClient,
  TimestampsToReturn,
  UserTokenType,
  Variant,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type NodeId,
  type OPCUACertificateManager,
} from 'node-opcua';
import type { Logger } from 'pino';
import type { PlcClientConfig, PlcTagName } from '../config/sections/plc.js';
import { errorMessage, isLoupeError, LoupeError } from '../errors.js';
import { counterWidth, fromUnsigned, toUnsigned, type CounterWidth } from './counter.js';
import { ACCEPTED_TYPES, dataTypeName, INPUT_TAGS, isOptionalTag, TAGS, withNamespaceIndex } from './interface-block.js';
import { classifyConnectError, securityModeOf, securityPolicyOf } from './security.js';

/** A tag as the PLC declares it, resolved at connect. */
export interface BoundTag {
  tag: PlcTagName;
  nodeId: NodeId;
  /** The node id as configured, for messages. */
  nodeIdText: string;
  dataType: DataType;
  width: CounterWidth;
}

/** What one block's tags look like in config (before connect). */
export interface BlockNodes {
  /** Station id, for messages. */
  station: string;
  nodeIds: Map<PlcTagName, string>;
  namespaceUri: string | undefined;
}

/** A tag value as the handshake sees it: counters unsigned, RecipeId as text, heartbeats as numbers. */
export type TagValue = number | string | boolean;

export interface PlcConnectionEvents {
  /** Session usable, tags verified, subscription live. Every handshake re-reads its counters now. */
  up: [];
  /** Nothing can be read or written until the next `up`. */
  down: [reason: string];
  /** An input tag changed. */
  change: [block: number, tag: PlcTagName, value: TagValue];
  /** A block's tags do not fit (missing, wrong type, not writable); the other blocks run on. */
  blockFault: [block: number, error: LoupeError];
}

export interface PlcConnectionOptions {
  cfg: PlcClientConfig;
  endpoint: string;
  blocks: BlockNodes[];
  pki: OPCUACertificateManager;
  pkiDir: string;
  applicationName: string;
  applicationUri: string;
  log: Logger;
}

const ACCESS_READ = 1;
const ACCESS_WRITE = 2;

/**
 * The one OPC UA session to the PLC: a connect loop of its own around the
 * stack's (which only repairs sessions it once had), one subscription for the
 * input tags of every block, and reads and writes with the data types the PLC
 * declares. Handshakes see tag names and plain values, never node ids.
 */
export class PlcConnection extends EventEmitter<PlcConnectionEvents> {
  private client: OPCUAClient | null = null;
  private session: ClientSession | null = null;
  private subscription: ClientSubscription | null = null;
  private bound: (Map<PlcTagName, BoundTag> | null)[] = [];
  private online = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private breakLink: ((reason: string) => void) | null = null;
  private repairTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private lastHeardAt = 0;
  private silent = false;
  private lastErrorText: string | null = null;
  /** Last connect or link problem, for the status screen; null while up. */
  lastError: LoupeError | null = null;
  /** Publishing interval the PLC granted (it may revise the configured one). */
  revisedPublishingMs: number | null = null;

  constructor(private readonly opts: PlcConnectionOptions) {
    super();
  }

  get isUp(): boolean {
    return this.online;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.breakLink?.('stopping');
    // A connect in progress gives up when its client is disconnected.
    if (!this.online) void this.client?.disconnect().catch(() => undefined);
    await this.loop;
  }

  /** The tags of block `i` as bound at the last connect, or null while it cannot run. */
  tags(block: number): ReadonlyMap<PlcTagName, BoundTag> | null {
    return this.bound[block] ?? null;
  }

  has(block: number, tag: PlcTagName): boolean {
    return this.bound[block]?.has(tag) ?? false;
  }

  /** Read tags of one block in one request. */
  async read<T extends PlcTagName>(block: number, tags: readonly T[]): Promise<Record<T, TagValue>> {
    const { session, bindings } = this.usable(block);
    const present = tags.filter((t) => bindings.has(t));
    let values: DataValue[];
    try {
      values = await session.read(present.map((t) => ({ nodeId: (bindings.get(t) as BoundTag).nodeId, attributeId: AttributeIds.Value })));
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_PLC_IO', `reading ${present.join(', ')} failed: ${errorMessage(err)}`, { cause: err });
    }
    const out = {} as Record<T, TagValue>;
    present.forEach((t, i) => {
      const dv = values[i];
      const b = bindings.get(t) as BoundTag;
      if (!dv || !dv.statusCode.isGood()) throw new LoupeError('LOUPE_ERR_PLC_IO', `reading ${t} (${b.nodeIdText}) failed: ${dv?.statusCode.name ?? 'no value'}`, { details: { tag: t } });
      out[t] = fromPlc(b, dv.value.value);
    });
    return out;
  }

  /**
   * Write tags of one block in one request, each with the data type the PLC
   * declares. Tags the block leaves out (optional ones) are skipped.
   */
  async write(block: number, values: Partial<Record<PlcTagName, TagValue>>): Promise<void> {
    const { session, bindings } = this.usable(block);
    const entries = (Object.entries(values) as [PlcTagName, TagValue][]).filter(([t]) => bindings.has(t));
    if (entries.length === 0) return;
    const nodes = entries.map(([t, v]) => {
      const b = bindings.get(t) as BoundTag;
      return { nodeId: b.nodeId, attributeId: AttributeIds.Value, value: { value: new Variant({ dataType: b.dataType, value: toPlc(b, v) }) } };
    });
    let results;
    try {
      results = await session.write(nodes);
    } catch (err) {
      throw new LoupeError('LOUPE_ERR_PLC_IO', `writing ${entries.map(([t]) => t).join(', ')} failed: ${errorMessage(err)}`, { cause: err });
    }
    results.forEach((sc, i) => {
      if (sc.isGood()) return;
      const [tag] = entries[i] as [PlcTagName, TagValue];
      const b = bindings.get(tag) as BoundTag;
      if (sc.name === 'BadTypeMismatch') {
        throw new LoupeError('LOUPE_ERR_PLC_TAG_TYPE', `the PLC refused ${dataTypeName(b.dataType)} for ${tag} (${b.nodeIdText}): ${sc.name}; check the tag's declared type`, {
          details: { tag, nodeId: b.nodeIdText },
        });
      }
      if (sc.name === 'BadNotWritable' || sc.name === 'BadUserAccessDenied') {
        throw new LoupeError('LOUPE_ERR_PLC_TAG_ACCESS', `the PLC does not let Loupe write ${tag} (${b.nodeIdText}): ${sc.name}`, { details: { tag, nodeId: b.nodeIdText } });
      }
      throw new LoupeError('LOUPE_ERR_PLC_IO', `writing ${tag} (${b.nodeIdText}) failed: ${sc.name}`, { details: { tag, nodeId: b.nodeIdText } });
    });
  }

  private usable(block: number): { session: ClientSession; bindings: ReadonlyMap<PlcTagName, BoundTag> } {
    const bindings = this.bound[block];
    if (!this.online || !this.session || !bindings) throw new LoupeError('LOUPE_ERR_PLC_IO', 'the PLC link is down');
    return { session: this.session, bindings };
  }

  private async run(): Promise<void> {
    const { reconnect } = this.opts.cfg;
    let delay = reconnect.minDelayMs;
    while (!this.stopped) {
      try {
        const broken = await this.connectOnce();
        delay = reconnect.minDelayMs;
        const reason = await broken;
        if (!this.stopped) this.opts.log.warn({ reason }, `PLC session at ${this.opts.endpoint} is closed (${reason}); building a new one`);
      } catch (err) {
        this.report(isLoupeError(err) ? err : classifyConnectError(err, this.errorContext()));
      }
      this.setDown('disconnected');
      await this.teardown();
      if (this.stopped) break;
      await sleep(delay, this.abort.signal);
      delay = Math.min(delay * 2, reconnect.maxDelayMs);
    }
  }

  /** Connect, verify, subscribe. Resolves with a promise that settles when the link is beyond repair. */
  private async connectOnce(): Promise<Promise<string>> {
    const { cfg, endpoint, log } = this.opts;
    const mode = securityModeOf(cfg.securityMode);
    const client = OPCUAClient.create({
      applicationName: this.opts.applicationName,
      applicationUri: this.opts.applicationUri,
      clientName: this.opts.applicationName,
      clientCertificateManager: this.opts.pki,
      securityMode: mode,
      securityPolicy: securityPolicyOf(cfg.securityMode, cfg.securityPolicy),
      endpointMustExist: false,
      // One quick retry for the first connect (our loop backs off); after a break the stack retries on its own.
      connectionStrategy: { maxRetry: 1, initialDelay: cfg.reconnect.minDelayMs, maxDelay: cfg.reconnect.maxDelayMs, randomisationFactor: 0.1 },
      requestedSessionTimeout: cfg.sessionTimeoutMs,
      defaultTransactionTimeout: cfg.requestTimeoutMs,
      keepSessionAlive: true,
      keepAliveInterval: cfg.keepAliveMs,
    });
    this.client = client;
    await client.connect(endpoint);
    if (this.stopped) throw new LoupeError('LOUPE_ERR_PLC_CONNECT', 'stopping');
    await this.checkUserTokens(client, mode);
    const identity = cfg.username ? { type: UserTokenType.UserName as const, userName: cfg.username, password: cfg.password } : { type: UserTokenType.Anonymous as const };
    const session = await client.createSession(identity);
    this.session = session;

    await this.bindBlocks(session);

    const keepAliveCount = Math.max(1, Math.ceil(cfg.keepAliveMs / cfg.publishingIntervalMs));
    const subscription = await session.createSubscription2({
      requestedPublishingInterval: cfg.publishingIntervalMs,
      requestedMaxKeepAliveCount: keepAliveCount,
      // The subscription outlives a link loss as long as the session does, so nothing queued is lost.
      requestedLifetimeCount: Math.max(3 * keepAliveCount, Math.ceil(cfg.sessionTimeoutMs / cfg.publishingIntervalMs)),
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 100,
    });
    this.subscription = subscription;
    this.revisedPublishingMs = subscription.publishingInterval;
    if (subscription.publishingInterval > cfg.publishingIntervalMs) {
      log.warn({ requestedMs: cfg.publishingIntervalMs, grantedMs: subscription.publishingInterval }, `the PLC granted a publishing interval of ${subscription.publishingInterval} ms (asked ${cfg.publishingIntervalMs} ms): trigger latency grows accordingly`);
    }

    const items: { block: number; tag: PlcTagName }[] = [];
    this.bound.forEach((b, block) => {
      if (b) for (const tag of INPUT_TAGS) if (b.has(tag)) items.push({ block, tag });
    });
    const group = await subscription.monitorItems(
      items.map(({ block, tag }) => ({ nodeId: (this.bound[block]?.get(tag) as BoundTag).nodeId, attributeId: AttributeIds.Value })),
      { samplingInterval: cfg.samplingIntervalMs, queueSize: cfg.queueSize, discardOldest: true },
      TimestampsToReturn.Neither,
    );
    group.monitoredItems.forEach((mi, i) => {
      const item = items[i];
      if (item && !mi.statusCode.isGood()) {
        throw new LoupeError('LOUPE_ERR_PLC_TAG_MISSING', `the PLC cannot monitor ${item.tag} of station ${this.opts.blocks[item.block]?.station}: ${mi.statusCode.name}`, { details: { tag: item.tag } });
      }
    });
    group.on('changed', (_mi, dv, index) => {
      this.heard();
      const item = items[index];
      const b = item ? this.bound[item.block]?.get(item.tag) : undefined;
      if (!item || !b || !dv.statusCode.isGood()) return;
      this.emit('change', item.block, item.tag, fromPlc(b, dv.value.value));
    });
    subscription.on('keepalive', () => this.heard());
    // An 'error' event nobody listens to would end the process.
    subscription.on('error', (err: Error) => log.warn({ err: errorMessage(err) }, 'PLC subscription error'));
    subscription.on('internal_error', (err: Error) => log.warn({ err: errorMessage(err) }, 'PLC subscription error'));
    group.on('err', (message: string) => log.warn({ err: message }, 'PLC monitored item error'));

    let resolveBroken!: (reason: string) => void;
    const broken = new Promise<string>((resolve) => (resolveBroken = resolve));
    this.breakLink = (reason) => resolveBroken(reason);
    if (this.stopped) resolveBroken('stopping');
    client.on('connection_lost', () => this.setDown('connection lost'));
    client.on('connection_reestablished', () => log.info('PLC connection re-established; restoring the session'));
    session.on('session_restored', () => void this.onRestored());
    session.on('session_closed', () => this.breakLink?.('session closed by the PLC'));
    subscription.on('terminated', () => this.breakLink?.('subscription terminated'));

    const granted = `publishing ${subscription.publishingInterval} ms, sampling ${cfg.samplingIntervalMs} ms, queue ${cfg.queueSize}`;
    log.info(
      { endpoint, securityMode: cfg.securityMode, securityPolicy: cfg.securityMode === 'None' ? 'None' : cfg.securityPolicy, user: cfg.username || '(anonymous)' },
      `connected to the PLC at ${endpoint} (${cfg.securityMode}${cfg.securityMode === 'None' ? '' : ` ${cfg.securityPolicy}`}; ${granted})`,
    );
    this.report(null);
    this.setUp();
    return broken;
  }

  /**
   * The stack throws out of an event handler (uncatchable) when asked to log
   * in with a user name the endpoint does not accept; check first and say so.
   */
  private async checkUserTokens(client: OPCUAClient, mode: MessageSecurityMode): Promise<void> {
    const { cfg, endpoint } = this.opts;
    const policy = securityPolicyOf(cfg.securityMode, cfg.securityPolicy);
    const endpoints = await client.getEndpoints();
    const ep = endpoints.find((e) => e.securityMode === mode && e.securityPolicyUri === policy);
    if (!ep) return; // connect() already refused a missing endpoint
    const kinds = (ep.userIdentityTokens ?? []).map((t) => t.tokenType);
    if (cfg.username && !kinds.includes(UserTokenType.UserName)) {
      throw new LoupeError('LOUPE_ERR_PLC_SECURITY', `${endpoint} accepts no user name on its ${cfg.securityMode} endpoint: use securityMode Sign or SignAndEncrypt, or leave plc.client.username empty`);
    }
    if (!cfg.username && !kinds.includes(UserTokenType.Anonymous)) {
      throw new LoupeError('LOUPE_ERR_PLC_AUTH', `${endpoint} refuses anonymous access: set plc.client.username and LOUPE__PLC__CLIENT__PASSWORD`);
    }
  }

  /** Resolve every block's node ids and check each tag's declared type and access. */
  private async bindBlocks(session: ClientSession): Promise<void> {
    const needsNs = this.opts.blocks.some((b) => b.namespaceUri !== undefined);
    const namespaces = needsNs ? ((await session.readNamespaceArray()) as string[]) : [];
    const faults: LoupeError[] = [];
    this.bound = [];
    for (const [i, block] of this.opts.blocks.entries()) {
      try {
        this.bound[i] = await this.bindBlock(session, block, namespaces);
      } catch (err) {
        const e = isLoupeError(err) ? err : new LoupeError('LOUPE_ERR_PLC_IO', `checking the tags of station ${block.station} failed: ${errorMessage(err)}`, { cause: err });
        this.bound[i] = null;
        faults.push(e);
        this.emit('blockFault', i, e);
      }
    }
    if (faults.length === this.opts.blocks.length && faults[0]) throw faults[0];
  }

  private async bindBlock(session: ClientSession, block: BlockNodes, namespaces: string[]): Promise<Map<PlcTagName, BoundTag>> {
    let nsIndex: number | undefined;
    if (block.namespaceUri !== undefined) {
      nsIndex = namespaces.indexOf(block.namespaceUri);
      if (nsIndex < 0) {
        throw new LoupeError('LOUPE_ERR_PLC_TAG_MISSING', `the PLC has no namespace ${block.namespaceUri} (plc.client.blocks[].namespaceUri for station ${block.station}); it has: ${namespaces.join(', ')}`);
      }
    }
    const entries = [...block.nodeIds.entries()].map(([tag, text]) => {
      const written = nsIndex === undefined ? text : withNamespaceIndex(text, nsIndex);
      let nodeId: NodeId;
      try {
        nodeId = coerceNodeId(written);
      } catch (err) {
        throw new LoupeError('LOUPE_ERR_PLC_TAG_MISSING', `${tag}: "${text}" is not a node id`, { cause: err, details: { tag, nodeId: text } });
      }
      return { tag, text: written, nodeId };
    });
    const attrs = [AttributeIds.DataType, AttributeIds.ValueRank, AttributeIds.UserAccessLevel];
    const dvs = await session.read(entries.flatMap((e) => attrs.map((attributeId) => ({ nodeId: e.nodeId, attributeId }))));
    const out = new Map<PlcTagName, BoundTag>();
    for (const [i, e] of entries.entries()) {
      const [dtDv, rankDv, accessDv] = [dvs[i * 3], dvs[i * 3 + 1], dvs[i * 3 + 2]];
      const spec = TAGS[e.tag];
      const details = { tag: e.tag, nodeId: e.text, station: block.station };
      if (!dtDv?.statusCode.isGood()) {
        if (isOptionalTag(e.tag)) {
          this.opts.log.warn(details, `the PLC has no ${e.tag} tag (${e.text}) for station ${block.station}; running without it (set it to null in plc.client.blocks[].tags to silence this)`);
          continue;
        }
        throw new LoupeError('LOUPE_ERR_PLC_TAG_MISSING', `the PLC has no ${e.tag} tag at ${e.text} (station ${block.station}): ${dtDv?.statusCode.name ?? 'no answer'}; fix plc.client.blocks[].nodeIdTemplate or tags.${e.tag}`, { details });
      }
      const declared = await builtInType(session, e.nodeId, dtDv.value.value as NodeId);
      const accepted = ACCEPTED_TYPES[spec.kind];
      if (declared === null || !accepted.includes(declared) || (rankDv?.value.value ?? -1) !== -1) {
        const got = declared === null ? 'an unknown type' : `${dataTypeName(declared)}${(rankDv?.value.value ?? -1) !== -1 ? ' array' : ''}`;
        throw new LoupeError('LOUPE_ERR_PLC_TAG_TYPE', `${e.tag} (${e.text}) is declared ${got} on the PLC, expected a scalar ${accepted.map(dataTypeName).join(' or ')}`, {
          details: { ...details, declared: got, expected: accepted.map(dataTypeName) },
        });
      }
      const access = Number(accessDv?.value.value ?? 0);
      const need = spec.dir === 'out' ? ACCESS_WRITE : ACCESS_READ;
      if (accessDv?.statusCode.isGood() && (access & need) === 0) {
        throw new LoupeError(
          'LOUPE_ERR_PLC_TAG_ACCESS',
          `${e.tag} (${e.text}) is not ${spec.dir === 'out' ? 'writable' : 'readable'} for the Loupe user (S7: tick "Writable" / "Accessible from HMI/OPC UA"; TwinCAT/Codesys: the symbol's access rights)`,
          { details },
        );
      }
      out.set(e.tag, { tag: e.tag, nodeId: e.nodeId, nodeIdText: e.text, dataType: declared, width: counterWidth(declared) });
    }
    return out;
  }

  private async onRestored(): Promise<void> {
    if (this.stopped || !this.session) return;
    try {
      // A PLC program download during the outage may have changed the block: check the types again.
      await this.bindBlocks(this.session);
    } catch (err) {
      this.report(isLoupeError(err) ? err : classifyConnectError(err, this.errorContext()));
      this.breakLink?.('tags changed while the link was down');
      return;
    }
    this.opts.log.info(`PLC session at ${this.opts.endpoint} restored`);
    this.report(null);
    this.setUp();
  }

  private heard(): void {
    this.lastHeardAt = performance.now();
    if (this.silent) {
      this.silent = false;
      this.opts.log.info('the PLC is publishing again');
      this.setUp();
    }
  }

  private setUp(): void {
    if (this.repairTimer) clearTimeout(this.repairTimer);
    this.repairTimer = null;
    this.lastHeardAt = performance.now();
    this.armSilenceWatch();
    if (!this.online) {
      this.online = true;
      this.emit('up');
    } else {
      // Restored without us noticing the loss: the handshakes still re-read their counters.
      this.emit('up');
    }
  }

  private setDown(reason: string): void {
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.silenceTimer = null;
    if (!this.online) return;
    this.online = false;
    if (!this.stopped) this.opts.log.warn({ reason }, `PLC link down: ${reason}`);
    this.emit('down', reason);
    if (!this.stopped && !this.repairTimer) {
      const ms = this.opts.cfg.reconnect.repairTimeoutMs;
      this.repairTimer = setTimeout(() => this.breakLink?.(`not restored within ${ms} ms`), ms);
    }
  }

  /**
   * A link can die without the socket noticing (a cable pulled between two
   * switches): three keep-alive periods without a word from the PLC count as down.
   */
  private armSilenceWatch(): void {
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    const periodMs = Math.max(this.opts.cfg.keepAliveMs, this.revisedPublishingMs ?? 0);
    this.silenceTimer = setInterval(() => {
      if (!this.online || performance.now() - this.lastHeardAt < 3 * periodMs) return;
      this.silent = true;
      this.setDown(`no keep-alive from the PLC for ${Math.round(performance.now() - this.lastHeardAt)} ms`);
    }, periodMs);
    this.silenceTimer.unref();
  }

  private async teardown(): Promise<void> {
    if (this.repairTimer) clearTimeout(this.repairTimer);
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.repairTimer = null;
    this.silenceTimer = null;
    this.breakLink = null;
    const { client, session, subscription } = this;
    this.client = null;
    this.session = null;
    this.subscription = null;
    const quietly = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), this.opts.cfg.requestTimeoutMs);
      } catch {
        // closing a dead link fails; nothing to report
      }
    };
    if (subscription) await quietly(() => subscription.terminate());
    if (session) await quietly(() => session.close(true));
    if (client) await quietly(() => client.disconnect());
  }

  /** Log a connect problem once; the same problem again is only counted. */
  private report(err: LoupeError | null): void {
    this.lastError = err;
    const text = err ? `${err.code}: ${err.message}` : null;
    if (text === this.lastErrorText) return;
    this.lastErrorText = text;
    if (err && !this.stopped) this.opts.log.error({ code: err.code, endpoint: this.opts.endpoint, ...err.details }, err.message);
  }

  private errorContext() {
    const { cfg, endpoint, pkiDir } = this.opts;
    return { endpoint, pkiDir, username: cfg.username, mode: cfg.securityMode, policy: cfg.securityMode === 'None' ? 'None' : cfg.securityPolicy };
  }
}

async function builtInType(session: ClientSession, variable: NodeId, dataTypeId: NodeId | null): Promise<DataType | null> {
  if (dataTypeId && dataTypeId.namespace === 0 && typeof dataTypeId.value === 'number' && dataTypeId.value >= 1 && dataTypeId.value <= 25) return dataTypeId.value as DataType;
  try {
    return await session.getBuiltInDataType(variable);
  } catch {
    return null;
  }
}

/** A value read from the PLC, normalised for the handshake. */
function fromPlc(b: BoundTag, raw: unknown): TagValue {
  switch (TAGS[b.tag].kind) {
    case 'bool':
      return raw === true;
    case 'counter':
      return toUnsigned(Number(raw ?? 0), b.width);
    case 'string':
      return typeof raw === 'string' ? raw : '';
    case 'id':
      return raw === null || raw === undefined ? '' : String(raw).trim();
    case 'heartbeat':
      return typeof raw === 'boolean' ? (raw ? 1 : 0) : Number(raw ?? 0);
    default:
      return Number(raw ?? 0);
  }
}

/** A value for the PLC, in the range and shape of the declared type. */
function toPlc(b: BoundTag, v: TagValue): number | string | boolean {
  switch (TAGS[b.tag].kind) {
    case 'bool':
      return v === true;
    case 'string':
      return String(v);
    case 'counter':
      return fromUnsigned(toUnsigned(Number(v), b.width), b.width);
    case 'heartbeat':
      return b.dataType === DataType.Boolean ? Number(v) % 2 === 1 : fromUnsigned(toUnsigned(Number(v), b.width), b.width);
    default: {
      const n = Number(v);
      if (b.dataType === DataType.Float || b.dataType === DataType.Double) return n;
      const w = b.width;
      const min = w.signed ? -w.modulus / 2 : 0;
      const max = w.signed ? w.modulus / 2 - 1 : w.modulus - 1;
      return Math.min(max, Math.max(min, Math.round(n)));
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
