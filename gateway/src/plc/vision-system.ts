import {
  DataType,
  promoteToStateMachine,
  StatusCodes,
  UserNameIdentityToken,
  type CallMethodResultOptions,
  type ISessionContext,
  type Namespace,
  type UAEventType,
  type UAObject,
  type UAObjectType,
  type UAStateMachineEx,
  type UAVariable,
  type Variant,
} from 'node-opcua';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import { errorMessage, isLoupeError } from '../errors.js';
import type { Finding, Inspection } from '../inspect/inspection.js';
import type { Station } from '../inspect/station.js';
import type { ReviewQueue, Settlement } from '../review/review-queue.js';
import type { Store } from '../store/store.js';
import { ResultState, VerdictCode } from './codes.js';
import type { StationControl } from './station-control.js';

/**
 * One station as a vision system on Loupe's OPC UA server, shaped after OPC
 * 40100 (Machine Vision): a state machine with Halt/Reset, StartSingleJob,
 * ResultManagement with the latest result and GetResultById, a ResultReady
 * event, counters and the model in use. Only standard OPC UA data types are
 * used, so PLC and SCADA clients of any stack can read and call it.
 */

export const VISION_NAMESPACE_URI = 'urn:loupe:vision';

const STATES = ['Preoperational', 'Halted', 'Error', 'Operational'] as const;
type VisionState = (typeof STATES)[number];

/** The transitions OPC 40100 allows between the top-level states. */
const TRANSITIONS: [VisionState, VisionState][] = [
  ['Preoperational', 'Halted'],
  ['Preoperational', 'Operational'],
  ['Preoperational', 'Error'],
  ['Halted', 'Preoperational'],
  ['Error', 'Halted'],
  ['Error', 'Preoperational'],
  ['Error', 'Operational'],
  ['Operational', 'Halted'],
  ['Operational', 'Preoperational'],
  ['Operational', 'Error'],
];

/** Fields of a result, in the LatestResult object, the ResultReady event and GetResultById. */
const RESULT_FIELDS = [
  ['ResultId', DataType.String],
  ['PartId', DataType.String],
  ['JobId', DataType.String],
  ['IsPartial', DataType.Boolean],
  ['ResultState', DataType.Int32],
  ['Verdict', DataType.String],
  ['VerdictCode', DataType.Int16],
  ['DefectClass', DataType.String],
  ['DefectScore', DataType.Double],
  ['FindingsSummary', DataType.String],
  ['ProcessingTimeMs', DataType.Double],
  ['ModelVersion', DataType.String],
  ['CreationTime', DataType.DateTime],
] as const;
type ResultField = (typeof RESULT_FIELDS)[number][0];
type ResultValues = Record<ResultField, unknown>;

export interface VisionTypes {
  ns: Namespace;
  stateMachineType: UAObjectType;
  resultReadyType: UAEventType;
}

/** The object and event types, once per server. */
export function addVisionTypes(ns: Namespace): VisionTypes {
  const stateMachineType = ns.addObjectType({
    browseName: 'VisionStateMachineType',
    subtypeOf: 'FiniteStateMachineType',
    description: 'Top-level states of a vision system as OPC 40100 defines them',
  });
  STATES.forEach((s, i) => ns.addState(stateMachineType, s, i + 1, s === 'Preoperational'));
  TRANSITIONS.forEach(([from, to], i) => ns.addTransition(stateMachineType, from, to, i + 1, `${from}To${to}`));
  const resultReadyType = ns.addEventType({ browseName: 'ResultReadyEventType', subtypeOf: 'BaseEventType' });
  for (const [name, dataType] of RESULT_FIELDS) ns.addVariable({ propertyOf: resultReadyType, browseName: name, dataType: DataType[dataType], modellingRule: 'Mandatory' });
  return { ns, stateMachineType, resultReadyType };
}

interface Job {
  partId: string;
  inspectionId: string | null;
  error: string | null;
  done: Promise<void>;
}

const MAX_JOBS = 1000;

export interface VisionSystemDeps {
  types: VisionTypes;
  parent: UAObject;
  /** The Server object: events bubble up to it so clients subscribed there see them. */
  server: UAObject;
  station: Station;
  control: StationControl;
  review: ReviewQueue;
  store: Store;
  /** Methods that change state need a named user unless the server has none configured. */
  requireUser: boolean;
  log: Logger;
}

export class VisionSystem {
  private readonly obj: UAObject;
  private readonly machine: UAStateMachineEx;
  private readonly latest = new Map<ResultField, UAVariable>();
  private readonly counters = new Map<string, UAVariable>();
  private readonly model = new Map<string, UAVariable>();
  private readonly jobs = new Map<string, Job>();
  private readonly jobsByPart = new Map<string, string[]>();
  private readonly stats = { parts: 0, pass: 0, fail: 0, held: 0, noResult: 0, yieldPass: 0, yieldFail: 0 };
  private readonly timer: NodeJS.Timeout;
  private readonly detach: (() => void)[] = [];

  constructor(private readonly deps: VisionSystemDeps) {
    const { types, station } = deps;
    const { ns } = types;
    const id = station.id;
    const nid = (path: string) => `ns=${ns.index};s=${id}${path}`;
    this.obj = ns.addObject({
      organizedBy: deps.parent,
      browseName: id,
      displayName: station.cfg.name ?? id,
      description: `Vision system of station ${id}`,
      nodeId: nid(''),
      eventNotifier: 1,
    });
    deps.server.addReference({ referenceType: 'HasNotifier', nodeId: this.obj });

    const machineObj = (types.stateMachineType as unknown as { instantiate(o: object): UAObject }).instantiate({
      namespace: ns,
      browseName: 'VisionStateMachine',
      componentOf: this.obj,
      nodeId: nid('.VisionStateMachine'),
    });
    this.machine = promoteToStateMachine(machineObj);
    this.machine.setState('Preoperational');
    this.method(machineObj, 'Halt', nid('.VisionStateMachine.Halt'), [], [], async (_args, ctx) => this.halt(ctx));
    this.method(machineObj, 'Reset', nid('.VisionStateMachine.Reset'), [], [], async (_args, ctx) => this.reset(ctx));
    this.method(
      machineObj,
      'StartSingleJob',
      nid('.VisionStateMachine.StartSingleJob'),
      [
        ['MeasId', DataType.String, 'Measurement id of the caller (may be empty)'],
        ['PartId', DataType.String, 'Id of the part under the camera'],
      ],
      [
        ['JobId', DataType.String, 'Id of the job; the ResultReady event and GetResultById carry it'],
        ['Error', DataType.Int32, '0 started, 1 not Operational, 2 station busy'],
      ],
      async (args, ctx) => this.startSingleJob(args, ctx),
    );

    const results = ns.addObject({ componentOf: this.obj, browseName: 'ResultManagement', nodeId: nid('.ResultManagement') });
    const latest = ns.addObject({ componentOf: results, browseName: 'LatestResult', nodeId: nid('.ResultManagement.LatestResult') });
    for (const [name, dataType] of RESULT_FIELDS) this.latest.set(name, this.variable(latest, name, dataType, nid(`.ResultManagement.LatestResult.${name}`)));
    this.method(
      results,
      'GetResultById',
      nid('.ResultManagement.GetResultById'),
      [
        ['ResultId', DataType.String, 'A ResultId, or the JobId StartSingleJob returned'],
        ['TimeoutMs', DataType.Int32, 'Wait this long for a job still in progress (0: do not wait)'],
      ],
      [...RESULT_FIELDS.filter(([n]) => n !== 'ResultId').map(([n, t]) => [n, t, ''] as [string, DataType, string]), ['Error', DataType.Int32, '0 found, 1 unknown id, 2 still in progress']],
      async (args, _ctx) => this.getResultById(args),
    );

    const stats = ns.addObject({ componentOf: this.obj, browseName: 'Statistics', nodeId: nid('.Statistics') });
    for (const [name, dataType] of [
      ['PartsTotal', DataType.UInt32],
      ['Passed', DataType.UInt32],
      ['Failed', DataType.UInt32],
      ['Held', DataType.UInt32],
      ['NoResult', DataType.UInt32],
      ['YieldPercent', DataType.Double],
      ['ReviewBacklog', DataType.UInt32],
    ] as const) {
      this.counters.set(name, this.variable(stats, name, dataType, nid(`.Statistics.${name}`)));
    }
    const model = ns.addObject({ componentOf: this.obj, browseName: 'Model', nodeId: nid('.Model') });
    for (const name of ['Id', 'Version', 'Provider', 'Sha256']) this.model.set(name, this.variable(model, name, DataType.String, nid(`.Model.${name}`)));

    const onInspected = (i: Inspection) => this.onInspected(i);
    const onSettled = (s: Settlement) => this.onSettled(s);
    const onBacklog = () => this.updateBacklog();
    const onControl = () => this.updateState();
    station.on('inspected', onInspected);
    deps.review.on('settled', onSettled);
    deps.review.on('added', onBacklog);
    deps.control.on('changed', onControl);
    this.detach.push(
      () => station.off('inspected', onInspected),
      () => deps.review.off('settled', onSettled),
      () => deps.review.off('added', onBacklog),
      () => deps.control.off('changed', onControl),
    );
    this.updateModel();
    this.updateBacklog();
    this.updateState();
    this.timer = setInterval(() => {
      this.updateState();
      this.updateModel();
    }, 1000);
    this.timer.unref();
  }

  get state(): VisionState {
    // The stack names states with their namespace index ("2:Operational").
    return ((this.machine.getCurrentState() ?? 'Preoperational').replace(/^\d+:/, '') as VisionState);
  }

  close(): void {
    clearInterval(this.timer);
    for (const d of this.detach.splice(0)) d();
  }

  // ---- state ----

  /** Follow the station: Operational while it runs and its camera works, Error when the camera is down. */
  private updateState(): void {
    const current = this.state;
    if (this.deps.control.halted) {
      if (current !== 'Halted') this.go('Halted');
      return;
    }
    if (current === 'Halted') this.go('Preoperational');
    const s = this.deps.station.status();
    const healthy = s.running && s.camera.state !== 'down';
    if (healthy && this.state !== 'Operational') this.go('Operational');
    else if (!healthy && s.running && this.state === 'Operational') this.go('Error');
  }

  private go(to: VisionState): void {
    const from = this.state;
    if (from === to) return;
    this.machine.setState(to);
    this.deps.log.info({ from, to }, `vision system ${this.deps.station.id}: ${from} -> ${to}`);
  }

  private halt(ctx: ISessionContext): CallMethodResultOptions {
    if (!this.mayControl(ctx)) return { statusCode: StatusCodes.BadUserAccessDenied };
    this.deps.control.halt();
    this.updateState();
    return { statusCode: StatusCodes.Good };
  }

  private reset(ctx: ISessionContext): CallMethodResultOptions {
    if (!this.mayControl(ctx)) return { statusCode: StatusCodes.BadUserAccessDenied };
    this.deps.control.reset();
    this.go('Preoperational');
    this.updateState();
    return { statusCode: StatusCodes.Good };
  }

  private mayControl(ctx: ISessionContext): boolean {
    if (!this.deps.requireUser) return true;
    const token = (ctx.session as { userIdentityToken?: unknown } | undefined)?.userIdentityToken;
    return token instanceof UserNameIdentityToken;
  }

  // ---- jobs and results ----

  private startSingleJob(args: Variant[], ctx: ISessionContext): CallMethodResultOptions {
    if (!this.mayControl(ctx)) return { statusCode: StatusCodes.BadUserAccessDenied };
    const measId = String(args[0]?.value ?? '');
    const partId = String(args[1]?.value ?? '').trim();
    const out = (jobId: string, error: number): CallMethodResultOptions => ({
      statusCode: StatusCodes.Good,
      outputArguments: [
        { dataType: DataType.String, value: jobId },
        { dataType: DataType.Int32, value: error },
      ],
    });
    if (this.state !== 'Operational') return out('', 1);
    const status = this.deps.station.status();
    if (status.inFlight + status.queued >= this.deps.station.cfg.maxInFlight + this.deps.station.cfg.maxQueued) return out('', 2);
    const jobId = ulid();
    const key = partId || jobId;
    this.jobsByPart.set(key, [...(this.jobsByPart.get(key) ?? []), jobId]);
    const job: Job = { partId: key, inspectionId: null, error: null, done: Promise.resolve() };
    job.done = this.deps.station.trigger({ partId: key, via: 'api' }).then(
      (i) => {
        job.inspectionId = i.id;
      },
      (err: unknown) => {
        job.error = errorMessage(err);
        this.takeJob(key);
        if (!isLoupeError(err)) this.deps.log.error({ err: job.error, jobId }, 'StartSingleJob failed');
      },
    );
    this.jobs.set(jobId, job);
    if (this.jobs.size > MAX_JOBS) this.jobs.delete(this.jobs.keys().next().value as string);
    this.deps.log.info({ jobId, partId: key, measId }, `StartSingleJob: part ${key} (job ${jobId})`);
    return out(jobId, 0);
  }

  private takeJob(partId: string): string {
    const ids = this.jobsByPart.get(partId);
    const id = ids?.shift() ?? '';
    if (ids && ids.length === 0) this.jobsByPart.delete(partId);
    return id;
  }

  private async getResultById(args: Variant[]): Promise<CallMethodResultOptions> {
    const id = String(args[0]?.value ?? '');
    const timeoutMs = Math.max(0, Math.min(60_000, Number(args[1]?.value ?? 0)));
    let inspectionId = id;
    let jobId = '';
    const job = this.jobs.get(id);
    if (job) {
      jobId = id;
      if (!job.inspectionId && !job.error && timeoutMs > 0) await Promise.race([job.done, new Promise((r) => setTimeout(r, timeoutMs))]);
      if (!job.inspectionId) return this.resultOutputs(null, job.error ? 1 : 2);
      inspectionId = job.inspectionId;
    }
    const i = this.deps.store.inspections.get(inspectionId);
    if (!i || i.station !== this.deps.station.id) return this.resultOutputs(null, 1);
    return this.resultOutputs(this.values(i, jobId || i.id, i.state !== 'awaiting-review' && i.modelVerdict === 'review' ? 'final' : 'first'), 0);
  }

  private resultOutputs(v: ResultValues | null, error: number): CallMethodResultOptions {
    const values = v ?? emptyValues();
    return {
      statusCode: StatusCodes.Good,
      outputArguments: [
        ...RESULT_FIELDS.filter(([n]) => n !== 'ResultId').map(([n, dataType]) => ({ dataType, value: values[n] })),
        { dataType: DataType.Int32, value: error },
      ],
    };
  }

  private onInspected(i: Inspection): void {
    const jobId = i.trigger === 'api' ? this.takeJob(i.partId) : '';
    const v = this.values(i, jobId || i.id, 'first');
    this.stats.parts++;
    if (i.state === 'error' || i.modelVerdict === null) this.stats.noResult++;
    else if (i.modelVerdict === 'review') this.stats.held++;
    else {
      if (i.modelVerdict === 'pass') this.stats.pass++;
      else this.stats.fail++;
      this.countYield(i.modelVerdict);
    }
    this.publish(v);
    this.updateCounters();
    this.updateModel();
  }

  private onSettled({ inspection, decision }: Settlement): void {
    if (inspection.station !== this.deps.station.id || inspection.modelVerdict !== 'review') return;
    this.countYield(decision.verdict);
    this.publish(this.values(inspection, inspection.id, 'final'));
    this.updateCounters();
  }

  private countYield(v: 'pass' | 'fail'): void {
    if (v === 'pass') this.stats.yieldPass++;
    else this.stats.yieldFail++;
  }

  /** A result's fields: the first verdict (hold while an operator decides) or the final one. */
  private values(i: Inspection, jobId: string, which: 'first' | 'final'): ResultValues {
    const final = which === 'final';
    const v = final ? i.verdict : i.modelVerdict;
    const code = i.state === 'error' || v === null ? VerdictCode.noResult : v === 'pass' ? VerdictCode.pass : v === 'fail' ? VerdictCode.fail : VerdictCode.hold;
    const name = { [VerdictCode.pass]: 'pass', [VerdictCode.fail]: 'fail', [VerdictCode.hold]: 'hold', [VerdictCode.noResult]: 'no-result', [VerdictCode.none]: '' }[code];
    const state = code === VerdictCode.noResult ? ResultState.failed : code === VerdictCode.hold ? ResultState.processing : ResultState.completed;
    return {
      ResultId: i.id,
      PartId: i.partId,
      JobId: jobId,
      IsPartial: code === VerdictCode.hold,
      ResultState: state,
      Verdict: name,
      VerdictCode: code,
      DefectClass: (final ? i.defectClass : i.modelVerdict === 'pass' ? null : i.defectClass) ?? '',
      DefectScore: i.defectScore ?? 0,
      FindingsSummary: summarizeFindings(i.findings),
      ProcessingTimeMs: Math.round((i.timings.totalMs ?? 0) * 10) / 10,
      ModelVersion: `${i.modelId}@${i.modelVersion}`,
      CreationTime: i.triggeredAt,
    };
  }

  private publish(v: ResultValues): void {
    for (const [name, dataType] of RESULT_FIELDS) this.latest.get(name)?.setValueFromSource({ dataType, value: v[name] });
    const data: Record<string, { dataType: DataType; value: unknown }> = {};
    for (const [name, dataType] of RESULT_FIELDS) data[name.charAt(0).toLowerCase() + name.slice(1)] = { dataType, value: v[name] };
    this.obj.raiseEvent(this.deps.types.resultReadyType, {
      ...data,
      sourceName: { dataType: DataType.String, value: this.deps.station.id },
      message: { dataType: DataType.LocalizedText, value: { text: `part ${String(v.PartId)}: ${String(v.Verdict)}${v.IsPartial ? ' (held for review)' : ''}` } },
      severity: { dataType: DataType.UInt16, value: v.VerdictCode === VerdictCode.pass ? 100 : 300 },
    });
  }

  private updateCounters(): void {
    const s = this.stats;
    const set = (name: string, dataType: DataType, value: number) => this.counters.get(name)?.setValueFromSource({ dataType, value });
    set('PartsTotal', DataType.UInt32, s.parts);
    set('Passed', DataType.UInt32, s.pass);
    set('Failed', DataType.UInt32, s.fail);
    set('Held', DataType.UInt32, s.held);
    set('NoResult', DataType.UInt32, s.noResult);
    const decided = s.yieldPass + s.yieldFail;
    set('YieldPercent', DataType.Double, decided === 0 ? 0 : Math.round((s.yieldPass / decided) * 10_000) / 100);
  }

  private updateBacklog(): void {
    this.counters.get('ReviewBacklog')?.setValueFromSource({ dataType: DataType.UInt32, value: this.deps.review.list(this.deps.station.id).length });
  }

  private updateModel(): void {
    const m = this.deps.station.status().model;
    const set = (name: string, value: string) => {
      const v = this.model.get(name);
      if (v && v.readValue().value.value !== value) v.setValueFromSource({ dataType: DataType.String, value });
    };
    set('Id', m.id);
    set('Version', m.version);
    set('Provider', m.provider);
    set('Sha256', m.sha256);
  }

  // ---- address space helpers ----

  private variable(parent: UAObject, name: string, dataType: DataType, nodeId: string): UAVariable {
    return this.deps.types.ns.addVariable({
      componentOf: parent,
      browseName: name,
      nodeId,
      dataType: DataType[dataType],
      accessLevel: 'CurrentRead',
      userAccessLevel: 'CurrentRead',
      minimumSamplingInterval: 0,
      value: { dataType, value: emptyValue(dataType) },
    });
  }

  private method(
    parent: UAObject,
    name: string,
    nodeId: string,
    inputs: [string, DataType, string][],
    outputs: [string, DataType, string][],
    fn: (args: Variant[], ctx: ISessionContext) => Promise<CallMethodResultOptions>,
  ): void {
    const arg = ([argName, dataType, description]: [string, DataType, string]) => ({ name: argName, dataType, description: { text: description }, valueRank: -1 });
    const m = this.deps.types.ns.addMethod(parent, { browseName: name, nodeId, inputArguments: inputs.map(arg), outputArguments: outputs.map(arg), executable: true, userExecutable: true });
    // node-opcua tells promise methods from callback ones by their declared arity (2).
    m.bindMethod(async (args: Variant[], ctx: ISessionContext) => {
      try {
        return await fn(args, ctx);
      } catch (err) {
        this.deps.log.error({ err: errorMessage(err), method: name }, `OPC UA method ${name} failed`);
        return { statusCode: StatusCodes.BadInternalError };
      }
    });
  }
}

function summarizeFindings(findings: Finding[]): string {
  return findings
    .slice(0, 3)
    .map((f) => `${f.label} ${f.score.toFixed(2)}${f.box ? ` at (${f.box.x.toFixed(2)},${f.box.y.toFixed(2)})` : ''}`)
    .join('; ');
}

function emptyValue(t: DataType): unknown {
  if (t === DataType.String) return '';
  if (t === DataType.Boolean) return false;
  if (t === DataType.DateTime) return new Date(0);
  return 0;
}

function emptyValues(): ResultValues {
  return Object.fromEntries(RESULT_FIELDS.map(([n, t]) => [n, emptyValue(t)])) as ResultValues;
}
