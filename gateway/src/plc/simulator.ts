import { EventEmitter } from 'node:events';
import {
  DataType,
  get_mini_nodeset_filename,
  nodesets,
  OPCUAServer,
  Variant,
  type OPCUACertificateManager,
  type UAVariable,
} from 'node-opcua';
import type { Logger } from 'pino';
import { PLC_TAG_NAMES, type PlcTagName, type SecurityModeName, type SecurityPolicyName } from '../config/sections/plc.js';
import { errorMessage, LoupeError } from '../errors.js';
import { VerdictCode } from './codes.js';
import { counterWidth, increment, toUnsigned } from './counter.js';
import { TAGS } from './interface-block.js';
import { summarize, type LatencySummary } from './latency-stats.js';
import { applicationUri, openPki, securityModeOf, securityPolicyOf } from './security.js';

/**
 * A PLC that runs the Loupe handshake, for the demo, the tests and a
 * commissioning engineer's bench: an OPC UA server with the interface block,
 * and a scan cycle that sends parts at a set rate, acknowledges results,
 * checks part ids and diverts what it must, like the PLC program described in
 * docs/plc.md would.
 */

export interface SimulatorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  partsPerMin: number;
  cycleMs: number;
  heartbeatMs: number;
  partIdPrefix: string;
  resultTimeoutMs: number;
  finalTimeoutMs: number;
  securityModes: SecurityModeName[];
  /** Policies offered with Sign and SignAndEncrypt. Default all three current ones. */
  securityPolicies?: SecurityPolicyName[];
  pkiDir: string;
  /** Trust any client certificate. Default false. */
  acceptUnknownCertificates?: boolean;
  /** Empty: anonymous access. */
  username: string;
  password: string;
  /** Data type each tag is declared with. Default: the recommended ones (docs/plc.md). */
  types?: Partial<Record<PlcTagName, DataType>>;
  /** `standard` for third-party clients; `minimal` starts in a fraction of the time (tests). Default standard. */
  addressSpace?: 'standard' | 'minimal';
  /** Stop sending parts after this many (0: no limit). Default 0. */
  maxParts?: number;
  /** Start with Enable = 1. Default true. */
  startEnabled?: boolean;
  /**
   * Send parts by itself, starting once Loupe first reports Ready with a live heartbeat, as a line's interlock
   * starts the conveyor only when the vision system is up (false: only after setLine(true)). Default true.
   */
  runLine?: boolean;
  /** Values the interface block starts with (a PLC that kept its data block). Default zeros. */
  initial?: Partial<Record<PlcTagName, number | string | boolean>>;
  /** Loupe counts as gone when LoupeHeartbeat has not changed for this long. Default 4 heartbeats. */
  loupeTimeoutMs?: number;
  log: Logger;
}

export type SimVerdict = 'pass' | 'fail' | 'hold' | 'no-result';

/** One part's journey through the simulated line. */
export interface SimPart {
  partId: string;
  triggerSeq: number;
  /** performance.now() when TriggerSeq was incremented. */
  triggeredAt: number;
  resultAt: number | null;
  /** Trigger to the PLC seeing ResultSeq. */
  latencyMs: number | null;
  verdict: SimVerdict | null;
  errorCode: number;
  final: 'pass' | 'fail' | null;
  finalLatencyMs: number | null;
  /** accepted: released as good; diverted: to the reject bin; held: waiting for the final verdict. */
  outcome: 'waiting' | 'held' | 'accepted' | 'diverted';
  divertReason: string | null;
}

export interface SimSummary {
  partsArrived: number;
  triggered: number;
  /** Parts that arrived but were not sent to Loupe, by reason (not ready, previous trigger not acknowledged). */
  notTriggered: Record<string, number>;
  results: number;
  verdicts: Record<SimVerdict, number>;
  finals: { pass: number; fail: number };
  accepted: number;
  diverted: Record<string, number>;
  waiting: number;
  held: number;
  /** A result or final for a part id the PLC never sent or no longer waits for. */
  mismatched: number;
  /** A second result (or final) for the same part. */
  duplicates: number;
  /** Results that came after the PLC had given up on the part. */
  late: number;
  /** Parts skipped by a later part's result (their result never came). */
  missingResults: number;
  /** ResultSeq or FinalSeq not one step ahead of the last one seen. */
  sequenceErrors: number;
  /** IsPartial not set exactly for hold results. */
  partialErrors: number;
  loupeHeartbeatLost: number;
  latency: LatencySummary;
  elapsedS: number;
}

export interface SimulatorEvents {
  /** A part left the line (accepted or diverted). */
  part: [SimPart];
  /** The PLC read a result. */
  result: [SimPart];
  /** The PLC read a final verdict. */
  final: [SimPart];
  /** Something a PLC programmer would flag: mismatched id, duplicate, sequence error. */
  anomaly: [kind: string, detail: string];
}

const VERDICTS: Record<number, SimVerdict> = { [VerdictCode.pass]: 'pass', [VerdictCode.fail]: 'fail', [VerdictCode.hold]: 'hold', [VerdictCode.noResult]: 'no-result' };

export class PlcSimulator extends EventEmitter<SimulatorEvents> {
  private server: OPCUAServer | null = null;
  private pki: OPCUACertificateManager | null = null;
  private readonly vars = new Map<PlcTagName, UAVariable>();
  private memory = new Map<PlcTagName, unknown>();
  private cycle: NodeJS.Timeout | null = null;
  private boundPort = 0;
  private startedAt = 0;
  private nextPartAt = 0;
  private nextBeatAt = 0;
  private partNo = 0;
  private lineRunning = true;
  /** runLine: the line waits for Loupe's first Ready before the first part. */
  private awaitingFirstReady = false;
  private acking = true;
  private beating = true;
  private loupeBeat: unknown = undefined;
  private loupeBeatAt = 0;
  /** False until LoupeHeartbeat first changes, and whenever it stops changing. */
  private loupeIsAlive = false;
  private lastResultSeq: number | null = null;
  private lastFinalSeq: number | null = null;
  private readonly awaiting: SimPart[] = [];
  private readonly holding = new Map<string, { part: SimPart; heldAt: number }>();
  private readonly resulted = new Set<string>();
  private readonly finalized = new Set<string>();
  private readonly gaveUp = new Set<string>();
  private readonly parts: SimPart[] = [];
  private readonly latencies: number[] = [];
  private readonly counts = {
    arrived: 0,
    triggered: 0,
    notTriggered: {} as Record<string, number>,
    results: 0,
    verdicts: { pass: 0, fail: 0, hold: 0, 'no-result': 0 } as Record<SimVerdict, number>,
    finals: { pass: 0, fail: 0 },
    accepted: 0,
    diverted: {} as Record<string, number>,
    mismatched: 0,
    duplicates: 0,
    late: 0,
    missingResults: 0,
    sequenceErrors: 0,
    partialErrors: 0,
    loupeHeartbeatLost: 0,
  };

  constructor(private readonly opts: SimulatorOptions) {
    super();
    this.lineRunning = opts.runLine ?? true;
    this.awaitingFirstReady = this.lineRunning;
  }

  /** Where Loupe connects. */
  get endpointUrl(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `opc.tcp://${host}:${this.boundPort}`;
  }

  /** True while LoupeHeartbeat keeps changing: the PLC sends parts only then (and with Ready). */
  get loupeAlive(): boolean {
    return this.loupeIsAlive;
  }

  /** Every part so far, in trigger order. */
  get history(): readonly SimPart[] {
    return this.parts;
  }

  async start(): Promise<void> {
    for (const tag of PLC_TAG_NAMES) {
      if (!this.memory.has(tag)) this.memory.set(tag, this.opts.initial?.[tag] ?? initialValue(this.typeOf(tag), tag === 'Enable' ? (this.opts.startEnabled ?? true) : undefined));
    }
    await this.startServer(this.opts.port);
    this.startedAt = performance.now();
    this.nextPartAt = this.startedAt + this.periodMs;
    this.nextBeatAt = this.startedAt;
    this.loupeBeatAt = this.startedAt;
    this.startCycle();
    this.opts.log.info({ endpoint: this.endpointUrl, partsPerMin: this.opts.partsPerMin }, `PLC simulator at ${this.endpointUrl}: ${this.opts.partsPerMin} parts/min`);
  }

  async stop(): Promise<SimSummary> {
    this.stopCycle();
    await this.stopServer();
    return this.summary();
  }

  /**
   * Restart the OPC UA server as a PLC does after a program download or a
   * power cycle with retentive data: the interface block keeps its values,
   * sessions and subscriptions are gone. The scan cycle pauses meanwhile.
   */
  async restartServer(downMs: number): Promise<void> {
    this.stopCycle();
    await this.stopServer();
    await sleep(downMs);
    await this.startServer(this.boundPort);
    // Parts that could not get a result while the server was away are timed out by the cycle as usual.
    this.nextPartAt = Math.max(this.nextPartAt, performance.now());
    this.loupeBeatAt = performance.now();
    this.startCycle();
  }

  /**
   * Cut the network for `downMs`, as a pulled cable or a switch reboot does:
   * open connections break, new ones are refused, sessions stay on the server.
   */
  async interruptLink(downMs: number): Promise<void> {
    const endpoints = this.server?.endpoints ?? [];
    await Promise.all(endpoints.map((e) => new Promise<void>((r) => e.suspendConnection(() => r()))));
    for (const e of endpoints) e.abruptlyInterruptChannels();
    await sleep(downMs);
    await Promise.all(endpoints.map((e) => new Promise<void>((r) => e.restoreConnection(() => r()))));
  }

  /** Sessions open on the simulated PLC. */
  get sessions(): number {
    return this.server?.currentSessionCount ?? 0;
  }

  /** The line stops or starts sending parts (Enable stays as it is). */
  setLine(running: boolean): void {
    this.lineRunning = running;
    this.awaitingFirstReady = false;
    if (running) this.nextPartAt = performance.now();
  }

  setEnable(enable: boolean): void {
    this.set('Enable', enable);
  }

  /** Stop (or resume) incrementing PlcHeartbeat, as a PLC in STOP or a hung task would. */
  stallHeartbeat(stalled: boolean): void {
    this.beating = !stalled;
  }

  /** Stop (or resume) acknowledging results and finals, as a PLC too busy to read them would. */
  holdAcknowledgements(held: boolean): void {
    this.acking = !held;
  }

  /** Trigger `count` parts within one scan: Loupe latches only the last, the others count as missed. */
  triggerBurst(count: number): void {
    for (let i = 0; i < count; i++) this.triggerPart(performance.now(), true);
  }

  /** Select a product, as the line's recipe management would (RecipeId). */
  setRecipe(id: number | string): void {
    this.set('RecipeId', id);
  }

  summary(): SimSummary {
    const c = this.counts;
    return {
      partsArrived: c.arrived,
      triggered: c.triggered,
      notTriggered: { ...c.notTriggered },
      results: c.results,
      verdicts: { ...c.verdicts },
      finals: { ...c.finals },
      accepted: c.accepted,
      diverted: { ...c.diverted },
      waiting: this.awaiting.length,
      held: this.holding.size,
      mismatched: c.mismatched,
      duplicates: c.duplicates,
      late: c.late,
      missingResults: c.missingResults,
      sequenceErrors: c.sequenceErrors,
      partialErrors: c.partialErrors,
      loupeHeartbeatLost: c.loupeHeartbeatLost,
      latency: summarize(this.latencies),
      elapsedS: Math.round((performance.now() - this.startedAt) / 100) / 10,
    };
  }

  /** A tag's current value as the PLC sees it. */
  read(tag: PlcTagName): unknown {
    return this.get(tag);
  }

  private get periodMs(): number {
    return 60_000 / this.opts.partsPerMin;
  }

  private typeOf(tag: PlcTagName): DataType {
    return this.opts.types?.[tag] ?? TAGS[tag].recommended;
  }

  // ---- the scan cycle ----

  private startCycle(): void {
    this.cycle = setInterval(() => {
      try {
        this.scan(performance.now());
      } catch (err) {
        this.opts.log.error({ err: errorMessage(err) }, 'PLC simulator scan failed');
      }
    }, this.opts.cycleMs);
  }

  private stopCycle(): void {
    if (this.cycle) clearInterval(this.cycle);
    this.cycle = null;
  }

  private scan(now: number): void {
    if (this.beating && now >= this.nextBeatAt) {
      this.set('PlcHeartbeat', this.step('PlcHeartbeat', this.get('PlcHeartbeat')));
      this.nextBeatAt = Math.max(this.nextBeatAt + this.opts.heartbeatMs, now - this.opts.heartbeatMs);
    }
    this.watchLoupe(now);
    if (this.acking) {
      this.readResult(now);
      this.readFinal(now);
    }
    this.timeouts(now);
    if (this.awaitingFirstReady) {
      if (!this.loupeIsAlive || this.get('Ready') !== true) return;
      this.awaitingFirstReady = false;
      this.nextPartAt = now;
      this.opts.log.info('PLC simulator: Loupe is ready; the line starts');
    }
    const limit = this.opts.maxParts ?? 0;
    if (this.lineRunning && now >= this.nextPartAt && (limit === 0 || this.counts.arrived < limit)) {
      this.nextPartAt = Math.max(this.nextPartAt + this.periodMs, now - this.periodMs);
      this.triggerPart(now, false);
    }
  }

  private watchLoupe(now: number): void {
    const beat = this.get('LoupeHeartbeat');
    if (beat !== this.loupeBeat) {
      const first = this.loupeBeat === undefined;
      this.loupeBeat = beat;
      this.loupeBeatAt = now;
      if (!this.loupeIsAlive && !first) this.opts.log.info('PLC simulator: LoupeHeartbeat is changing');
      // The value found at start proves nothing; the first change does.
      this.loupeIsAlive = !first;
    } else if (this.loupeIsAlive && now - this.loupeBeatAt > (this.opts.loupeTimeoutMs ?? 4 * 500)) {
      this.loupeIsAlive = false;
      this.counts.loupeHeartbeatLost++;
      this.opts.log.warn('PLC simulator: LoupeHeartbeat stopped; parts are diverted until it changes again');
    }
  }

  private triggerPart(now: number, burst: boolean): void {
    this.counts.arrived++;
    const partId = `${this.opts.partIdPrefix}-${String(++this.partNo).padStart(6, '0')}`;
    const notReady =
      this.get('Enable') !== true
        ? 'disabled'
        : !this.loupeIsAlive
          ? 'loupe-heartbeat-stale'
          : this.get('Ready') !== true
            ? 'not-ready'
            : !burst && this.get('TriggerAck') !== this.get('TriggerSeq')
              ? 'trigger-not-acknowledged'
              : null;
    if (notReady) {
      this.counts.notTriggered[notReady] = (this.counts.notTriggered[notReady] ?? 0) + 1;
      this.divert(`not-triggered:${notReady}`);
      return;
    }
    // Payload first, counter last: the same rule the PLC asks of Loupe.
    this.set('PartId', partId);
    const seq = this.step('TriggerSeq', this.get('TriggerSeq'));
    this.set('TriggerSeq', seq);
    this.counts.triggered++;
    const part: SimPart = {
      partId,
      triggerSeq: Number(seq),
      triggeredAt: now,
      resultAt: null,
      latencyMs: null,
      verdict: null,
      errorCode: 0,
      final: null,
      finalLatencyMs: null,
      outcome: 'waiting',
      divertReason: null,
    };
    this.parts.push(part);
    this.awaiting.push(part);
  }

  private readResult(now: number): void {
    const seq = this.get('ResultSeq');
    if (seq === this.get('ResultAckSeq')) return;
    this.checkStep('ResultSeq', this.lastResultSeq, seq);
    this.lastResultSeq = Number(seq);
    const partId = String(this.get('ResultPartId'));
    const verdict = VERDICTS[Number(this.get('Verdict'))] ?? null;
    const isPartial = this.get('IsPartial') === true;
    this.set('ResultAckSeq', seq);
    const idx = this.awaiting.findIndex((p) => p.partId === partId);
    if (idx < 0) {
      if (this.resulted.has(partId)) this.anomaly('duplicates', 'duplicate-result', `a second result for part ${partId}`);
      else if (this.gaveUp.has(partId)) this.counts.late++;
      else this.anomaly('mismatched', 'mismatched-result', `ResultPartId "${partId}" is no part the PLC waits for`);
      return;
    }
    for (const skipped of this.awaiting.splice(0, idx)) {
      this.counts.missingResults++;
      this.gaveUp.add(skipped.partId);
      this.leave(skipped, 'diverted', 'no-result:skipped');
    }
    const part = this.awaiting.shift() as SimPart;
    this.resulted.add(partId);
    part.resultAt = now;
    part.latencyMs = now - part.triggeredAt;
    part.verdict = verdict;
    part.errorCode = Number(this.get('ErrorCode') ?? 0);
    this.latencies.push(part.latencyMs);
    this.counts.results++;
    if (verdict) this.counts.verdicts[verdict]++;
    if (isPartial !== (verdict === 'hold')) this.anomaly('partialErrors', 'is-partial', `part ${partId}: IsPartial ${isPartial} with verdict ${verdict}`);
    this.emit('result', part);
    if (verdict === 'pass') this.leave(part, 'accepted', null);
    else if (verdict === 'hold') {
      part.outcome = 'held';
      this.holding.set(partId, { part, heldAt: now });
    } else this.leave(part, 'diverted', verdict === 'fail' ? 'fail' : `no-result:${part.errorCode}`);
  }

  private readFinal(now: number): void {
    const seq = this.get('FinalSeq');
    if (seq === this.get('FinalAckSeq')) return;
    this.checkStep('FinalSeq', this.lastFinalSeq, seq);
    this.lastFinalSeq = Number(seq);
    const partId = String(this.get('FinalPartId'));
    const verdict = Number(this.get('FinalVerdict'));
    this.set('FinalAckSeq', seq);
    const part = this.holding.get(partId)?.part;
    if (!part) {
      if (this.finalized.has(partId)) this.anomaly('duplicates', 'duplicate-final', `a second final verdict for part ${partId}`);
      else if (this.gaveUp.has(partId)) this.counts.late++;
      else this.anomaly('mismatched', 'mismatched-final', `FinalPartId "${partId}" is no part the PLC holds`);
      return;
    }
    this.holding.delete(partId);
    this.finalized.add(partId);
    part.final = verdict === VerdictCode.pass ? 'pass' : 'fail';
    part.finalLatencyMs = now - part.triggeredAt;
    this.counts.finals[part.final]++;
    this.emit('final', part);
    if (part.final === 'pass') this.leave(part, 'accepted', null);
    else this.leave(part, 'diverted', verdict === VerdictCode.fail ? 'final-fail' : `final-${verdict}`);
  }

  private timeouts(now: number): void {
    while (this.awaiting[0] && now - this.awaiting[0].triggeredAt > this.opts.resultTimeoutMs) {
      const p = this.awaiting.shift() as SimPart;
      this.gaveUp.add(p.partId);
      this.leave(p, 'diverted', 'result-timeout');
    }
    for (const [id, h] of this.holding) {
      if (now - h.heldAt <= this.opts.finalTimeoutMs) continue;
      this.holding.delete(id);
      this.gaveUp.add(id);
      this.leave(h.part, 'diverted', 'final-timeout');
    }
  }

  private leave(part: SimPart, outcome: 'accepted' | 'diverted', reason: string | null): void {
    part.outcome = outcome;
    part.divertReason = reason;
    if (outcome === 'accepted') this.counts.accepted++;
    else this.counts.diverted[reason ?? 'unknown'] = (this.counts.diverted[reason ?? 'unknown'] ?? 0) + 1;
    this.emit('part', part);
  }

  /** A part that never reached Loupe goes to the reject bin straight away. */
  private divert(reason: string): void {
    this.counts.diverted[reason] = (this.counts.diverted[reason] ?? 0) + 1;
  }

  private checkStep(tag: 'ResultSeq' | 'FinalSeq', last: number | null, now: unknown): void {
    if (last === null) return;
    const expected = this.step(tag, last);
    if (Number(now) !== Number(expected)) this.anomaly('sequenceErrors', 'sequence', `${tag} went from ${last} to ${String(now)}, expected ${String(expected)}`);
  }

  private anomaly(counter: 'mismatched' | 'duplicates' | 'sequenceErrors' | 'partialErrors', kind: string, detail: string): void {
    this.counts[counter]++;
    this.opts.log.warn({ kind }, `PLC simulator: ${detail}`);
    this.emit('anomaly', kind, detail);
  }

  /** `value` + 1 in the tag's declared width (a Boolean heartbeat toggles). */
  private step(tag: PlcTagName, value: unknown): number | boolean {
    if (this.typeOf(tag) === DataType.Boolean) return value !== true;
    const w = counterWidth(this.typeOf(tag));
    const u = increment(toUnsigned(Number(value ?? 0), w), w);
    return w.signed && u >= w.modulus / 2 ? u - w.modulus : u;
  }

  // ---- the OPC UA server ----

  private get(tag: PlcTagName): unknown {
    const v = this.vars.get(tag);
    return v ? v.readValue().value.value : this.memory.get(tag);
  }

  private set(tag: PlcTagName, value: unknown): void {
    this.memory.set(tag, value);
    this.vars.get(tag)?.setValueFromSource(new Variant({ dataType: this.typeOf(tag), value }));
  }

  private async startServer(port: number): Promise<void> {
    const o = this.opts;
    this.pki ??= await openPki(o.pkiDir, o.acceptUnknownCertificates ?? false);
    const policies = o.securityPolicies ?? ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'];
    const server = new OPCUAServer({
      port,
      host: o.host,
      hostname: o.host,
      nodeset_filename: o.addressSpace === 'minimal' ? [get_mini_nodeset_filename()] : [nodesets.standard],
      serverCertificateManager: this.pki,
      securityModes: o.securityModes.map(securityModeOf),
      securityPolicies: [...new Set(o.securityModes.flatMap((m) => (m === 'None' ? [securityPolicyOf('None', 'Basic256Sha256')] : policies.map((p) => securityPolicyOf(m, p)))))],
      allowAnonymous: o.username === '',
      userManager: { isValidUser: (user: string, password: string) => o.username !== '' && user === o.username && password === o.password },
      serverInfo: { applicationUri: applicationUri('simulator', 'plc-sim'), productUri: 'urn:loupe:plc-sim', applicationName: { text: 'Loupe PLC simulator' } },
      buildInfo: { productName: 'Loupe PLC simulator', manufacturerName: 'Loupe' },
    });
    try {
      await server.initialize();
      this.buildBlock(server);
      await server.start();
    } catch (err) {
      await server.shutdown(0).catch(() => undefined);
      throw new LoupeError('LOUPE_ERR_PLC_SERVER', `PLC simulator cannot listen on ${o.host}:${port}: ${errorMessage(err)}`, { cause: err });
    }
    this.server = server;
    this.boundPort = server.endpoints[0]?.port ?? port;
  }

  private async stopServer(): Promise<void> {
    for (const tag of PLC_TAG_NAMES) this.memory.set(tag, this.get(tag));
    this.vars.clear();
    const server = this.server;
    this.server = null;
    if (server) await server.shutdown(0);
  }

  /** The interface block: one folder, one variable per tag, node ids ns=1;s=LoupeIF.<Tag>. */
  private buildBlock(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error('address space not ready');
    const ns = addressSpace.getOwnNamespace();
    const folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'LoupeIF', nodeId: 's=LoupeIF' });
    for (const tag of PLC_TAG_NAMES) {
      const type = this.typeOf(tag);
      // What the PLC writes is read-only for clients, as an S7 DB member not marked "Writable from HMI/OPC UA".
      const access = TAGS[tag].dir === 'in' ? 'CurrentRead' : 'CurrentRead | CurrentWrite';
      const v = ns.addVariable({
        componentOf: folder,
        browseName: tag,
        nodeId: `s=LoupeIF.${tag}`,
        dataType: DataType[type],
        accessLevel: access,
        userAccessLevel: access,
        minimumSamplingInterval: 0,
        value: { dataType: type, value: this.memory.get(tag) },
      });
      this.vars.set(tag, v);
    }
  }
}

function initialValue(type: DataType, given?: boolean): unknown {
  if (type === DataType.Boolean) return given ?? false;
  if (type === DataType.String) return '';
  return 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
