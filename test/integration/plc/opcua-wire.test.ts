import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlcRuntime } from '../../../gateway/src/plc/plc-runtime.js';
import type { PlcSimulator } from '../../../gateway/src/plc/simulator.js';
import { VISION_NAMESPACE_URI } from '../../../gateway/src/plc/vision-system.js';
import { OpcUaWireClient } from '../../helpers/opcua-wire/client.js';
import { OpcUaWireError, VariantType, type NodeId } from '../../helpers/opcua-wire/codec.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';
import { startPlcLine, type PlcTestLine } from '../../helpers/plc-line.js';
import { startLoupePlc, waitUntil } from '../../helpers/plc-loupe.js';
import { startTestSim } from '../../helpers/plc-sim.js';

/** Standard status codes (OPC 10000-6, StatusCode.csv). */
const BadNodeIdUnknown = 0x80340000;
const BadUserAccessDenied = 0x801f0000;
const BadSessionIdInvalid = 0x80250000;
const BadSessionClosed = 0x80260000;

/**
 * Loupe's OPC UA server read by a client that shares no code with
 * node-opcua (test/helpers/opcua-wire.ts, written from the binary mapping):
 * the server answers in standard encodings and services, not only in what
 * node-opcua's own client happens to accept.
 */
describe('Loupe OPC UA server with an independent client', () => {
  let line: PlcTestLine;
  let sim: PlcSimulator;
  let loupe: PlcRuntime;

  beforeAll(async () => {
    line = await startPlcLine({ policy: { passBelow: 0.3, failAtOrAbove: 0.5, auditRate: 0 } });
    sim = await startTestSim(line.dir, line.log, { runLine: false, partsPerMin: 300, maxParts: 3 });
    loupe = await startLoupePlc(line, {
      endpoint: sim.endpointUrl,
      // With a user configured, anonymous sessions may read but not control.
      server: { enabled: true, host: '127.0.0.1', port: 0, securityModes: ['None'], allowAnonymous: true, username: 'mes', password: 'mes-secret' },
    });
    await waitUntil('Ready and LoupeHeartbeat', () => sim.read('Ready') === true && sim.loupeAlive, 15_000);
    sim.setLine(true);
    // Three parts settled at the PLC (a part a loaded machine could not take in time still counts as settled).
    await waitUntil('three parts settled at the PLC', () => sim.summary().partsArrived === 3 && sim.summary().waiting === 0, 20_000, () => sim.summary());
    await waitUntil('the station idle', () => line.station.status().inFlight === 0 && line.station.status().queued === 0, 5000);
  });

  afterAll(async () => {
    await loupe?.stop();
    await sim?.stop();
    await line?.close();
    await expectNoOpenSockets();
  });

  it('opens a None channel and an anonymous session, reads the vision system and is refused a method call', async () => {
    const client = new OpcUaWireClient(loupe.server?.endpointUrl ?? '');
    await client.connect();
    await client.anonymousSession();

    const [namespaces] = await client.read([{ ns: 0, id: 2255 }]);
    expect(namespaces?.status).toBe(0);
    const ns = (namespaces?.value?.value as string[]).indexOf(VISION_NAMESPACE_URI);
    expect(ns).toBeGreaterThan(0);
    const id = (path: string): NodeId => ({ ns, id: `station-1${path}` });

    const [model, state, parts, latest, missing] = await client.read([
      id('.Model.Id'),
      id('.VisionStateMachine-CurrentState'),
      id('.Statistics.PartsTotal'),
      id('.ResultManagement.LatestResult.PartId'),
      id('.No.Such.Node'),
    ]);
    expect(model).toEqual({ status: 0, value: { type: VariantType.String, value: 'demo-part' } });
    expect(state?.value?.value).toMatchObject({ text: 'Operational' });
    expect(Number(parts?.value?.value)).toBe(line.store.inspections.list({ station: 'station-1', limit: 100 }).length);
    expect(latest?.value?.value).toBe(line.store.inspections.list({ station: 'station-1', limit: 1 })[0]?.partId);
    expect(missing?.status).toBe(BadNodeIdUnknown);

    const halt = await client.callMethod(id('.VisionStateMachine'), id('.VisionStateMachine.Halt'), []);
    expect(halt.status).toBe(BadUserAccessDenied);
    const [after] = await client.read([id('.VisionStateMachine-CurrentState')]);
    expect(after?.value?.value).toMatchObject({ text: 'Operational' });
    await client.close();
  });

  it('gets a ServiceFault with a standard status for a request on a session it closed', async () => {
    const client = new OpcUaWireClient(loupe.server?.endpointUrl ?? '');
    await client.connect();
    await client.anonymousSession();
    await client.closeSession();
    const err = await client.read([{ ns: 0, id: 2255 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpcUaWireError);
    expect([BadSessionIdInvalid, BadSessionClosed]).toContain((err as OpcUaWireError).status);
    await client.close();
  });
});
