import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttributeIds,
  constructEventFilter,
  DataType,
  MessageSecurityMode,
  ObjectIds,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
  type ClientSession,
  type Variant,
} from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlcRuntime } from '../../../gateway/src/plc/plc-runtime.js';
import type { PlcSimulator } from '../../../gateway/src/plc/simulator.js';
import { VISION_NAMESPACE_URI } from '../../../gateway/src/plc/vision-system.js';
import { startLoupePlc, waitUntil } from '../../helpers/plc-loupe.js';
import { startPlcLine, type PlcTestLine } from '../../helpers/plc-line.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';
import { startTestSim } from '../../helpers/plc-sim.js';

/**
 * Loupe's own OPC UA server as a SCADA or MES client sees it: a generic
 * OPC UA client, nothing Loupe-specific on its side.
 */
describe('Loupe OPC UA server (vision system per station)', () => {
  let line: PlcTestLine;
  let sim: PlcSimulator;
  let loupe: PlcRuntime;
  let pkiDir: string;
  let cm: OPCUACertificateManager;
  const clients: OPCUAClient[] = [];
  let ns = 0;
  const id = (path: string) => `ns=${ns};s=station-1${path}`;

  beforeAll(async () => {
    line = await startPlcLine({ policy: { passBelow: 0.3, failAtOrAbove: 0.5, auditRate: 0 } });
    sim = await startTestSim(line.dir, line.log, { runLine: false });
    loupe = await startLoupePlc(line, {
      endpoint: sim.endpointUrl,
      server: { enabled: true, host: '127.0.0.1', port: 0, securityModes: ['None', 'SignAndEncrypt'], allowAnonymous: true, acceptUnknownCertificates: true, username: 'mes', password: 'mes-secret' },
    });
    await waitUntil('Ready', () => sim.read('Ready') === true, 15_000);
    pkiDir = mkdtempSync(join(tmpdir(), 'loupe-opcua-client-'));
    cm = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: true });
    await cm.initialize();
  });

  afterAll(async () => {
    for (const c of clients) await c.disconnect().catch(() => undefined);
    await cm?.dispose();
    await loupe?.stop();
    await sim?.stop();
    await line?.close();
    if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
    await expectNoOpenSockets();
  });

  async function session(as: 'anonymous' | 'mes'): Promise<ClientSession> {
    const secure = as === 'mes';
    const client = OPCUAClient.create({
      endpointMustExist: false,
      clientCertificateManager: cm,
      securityMode: secure ? MessageSecurityMode.SignAndEncrypt : MessageSecurityMode.None,
      securityPolicy: secure ? SecurityPolicy.Basic256Sha256 : SecurityPolicy.None,
      connectionStrategy: { maxRetry: 0 },
    });
    clients.push(client);
    await client.connect(loupe.server?.endpointUrl ?? '');
    const s = await client.createSession(secure ? { type: UserTokenType.UserName, userName: 'mes', password: 'mes-secret' } : { type: UserTokenType.Anonymous });
    ns = ((await s.readNamespaceArray()) as string[]).indexOf(VISION_NAMESPACE_URI);
    return s;
  }

  async function read(s: ClientSession, path: string): Promise<unknown> {
    const dv = await s.read({ nodeId: id(path), attributeId: AttributeIds.Value });
    expect(dv.statusCode.name, path).toBe('Good');
    return dv.value.value;
  }

  async function state(s: ClientSession): Promise<string> {
    const v = (await read(s, '.VisionStateMachine-CurrentState')) as { text: string };
    return v.text;
  }

  it('lets anyone read the vision system but only a user call its methods', async () => {
    const s = await session('anonymous');
    expect(ns).toBeGreaterThan(0);
    expect(await state(s)).toBe('Operational');
    expect(await read(s, '.Model.Id')).toBe('demo-part');
    const halt = await s.call({ objectId: id('.VisionStateMachine'), methodId: id('.VisionStateMachine.Halt'), inputArguments: [] });
    expect(halt.statusCode.name).toBe('BadUserAccessDenied');
    expect(await state(s)).toBe('Operational');
  });

  it('starts a single job with a part id, raises ResultReady and returns the result by id', async () => {
    const s = await session('mes');
    const sub = await s.createSubscription2({ requestedPublishingInterval: 50, requestedMaxKeepAliveCount: 10, requestedLifetimeCount: 100, publishingEnabled: true });
    const fields = ['PartId', 'JobId', 'ResultId', 'IsPartial', 'ResultState', 'Verdict', 'VerdictCode'];
    const item = await sub.monitor(
      { nodeId: `ns=0;i=${ObjectIds.Server}`, attributeId: AttributeIds.EventNotifier },
      { queueSize: 10, discardOldest: true, filter: constructEventFilter(fields.map((f) => `${ns}:${f}`)) },
      TimestampsToReturn.Neither,
    );
    const events: Record<string, unknown>[] = [];
    item.on('changed', (values: unknown) => events.push(Object.fromEntries((values as Variant[]).map((v, i) => [fields[i], v.value]))));

    const call = await s.call({
      objectId: id('.VisionStateMachine'),
      methodId: id('.VisionStateMachine.StartSingleJob'),
      inputArguments: [
        { dataType: DataType.String, value: 'meas-1' },
        { dataType: DataType.String, value: 'PART-9' },
      ],
    });
    expect(call.statusCode.name).toBe('Good');
    const [jobId, error] = (call.outputArguments ?? []).map((a) => a.value) as [string, number];
    expect(error).toBe(0);
    expect(jobId).toMatch(/^[0-9A-Z]{26}$/);

    const ev = await waitUntil('a ResultReady event', () => events.find((e) => e.PartId === 'PART-9'), 10_000);
    expect(ev).toMatchObject({ JobId: jobId, ResultId: expect.stringMatching(/^[0-9A-Z]{26}$/) });
    const byId = await s.call({
      objectId: id('.ResultManagement'),
      methodId: id('.ResultManagement.GetResultById'),
      inputArguments: [
        { dataType: DataType.String, value: jobId },
        { dataType: DataType.Int32, value: 2000 },
      ],
    });
    const out = (byId.outputArguments ?? []).map((a) => a.value);
    expect(out.at(-1)).toBe(0);
    expect(out[0]).toBe('PART-9');
    const record = line.store.inspections.get(String(ev.ResultId));
    const expected = record?.modelVerdict === 'review' ? 'hold' : record?.modelVerdict;
    expect(ev.Verdict).toBe(expected);
    expect(ev.IsPartial).toBe(expected === 'hold');
    expect(await read(s, '.ResultManagement.LatestResult.PartId')).toBe('PART-9');
    expect(await read(s, '.Statistics.PartsTotal')).toBeGreaterThanOrEqual(1);
    const unknown = await s.call({
      objectId: id('.ResultManagement'),
      methodId: id('.ResultManagement.GetResultById'),
      inputArguments: [
        { dataType: DataType.String, value: 'no-such-result' },
        { dataType: DataType.Int32, value: 0 },
      ],
    });
    expect(unknown.outputArguments?.at(-1)?.value).toBe(1);
    await sub.terminate();
  });

  it('Halt stops the station taking parts, from OPC UA and from the PLC, until Reset', async () => {
    const s = await session('mes');
    const halt = await s.call({ objectId: id('.VisionStateMachine'), methodId: id('.VisionStateMachine.Halt'), inputArguments: [] });
    expect(halt.statusCode.name).toBe('Good');
    expect(await state(s)).toBe('Halted');
    await waitUntil('Ready 0 at the PLC', () => sim.read('Ready') === false, 5000);
    const refused = await s.call({
      objectId: id('.VisionStateMachine'),
      methodId: id('.VisionStateMachine.StartSingleJob'),
      inputArguments: [
        { dataType: DataType.String, value: '' },
        { dataType: DataType.String, value: 'PART-10' },
      ],
    });
    expect(refused.outputArguments?.[1]?.value).toBe(1);
    const reset = await s.call({ objectId: id('.VisionStateMachine'), methodId: id('.VisionStateMachine.Reset'), inputArguments: [] });
    expect(reset.statusCode.name).toBe('Good');
    expect(await state(s)).toBe('Operational');
    await waitUntil('Ready 1 at the PLC', () => sim.read('Ready') === true, 5000);
  });
});
