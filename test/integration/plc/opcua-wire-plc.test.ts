import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlcRuntime } from '../../../gateway/src/plc/plc-runtime.js';
import { VariantType } from '../../helpers/opcua-wire/codec.js';
import { WirePlcServer } from '../../helpers/opcua-wire/plc-server.js';
import { expectNoOpenSockets } from '../../helpers/plc-leaks.js';
import { startPlcLine, type PlcTestLine } from '../../helpers/plc-line.js';
import { startLoupePlc, waitUntil } from '../../helpers/plc-loupe.js';

/** The interface block as a PLC programmer would declare it, with the types the README recommends. */
const BLOCK: [tag: string, type: number, initial: unknown, writableByLoupe: boolean][] = [
  ['Enable', VariantType.Boolean, false, false],
  ['TriggerSeq', VariantType.UInt32, 0, false],
  ['PartId', VariantType.String, '', false],
  ['RecipeId', VariantType.UInt16, 0, false],
  ['ResultAckSeq', VariantType.UInt32, 0, false],
  ['FinalAckSeq', VariantType.UInt32, 0, false],
  ['PlcHeartbeat', VariantType.UInt16, 0, false],
  ['Ready', VariantType.Boolean, false, true],
  ['TriggerAck', VariantType.UInt32, 0, true],
  ['Busy', VariantType.Boolean, false, true],
  ['ResultSeq', VariantType.UInt32, 0, true],
  ['ResultPartId', VariantType.String, '', true],
  ['Verdict', VariantType.Int16, 0, true],
  ['ResultState', VariantType.Int32, 0, true],
  ['IsPartial', VariantType.Boolean, false, true],
  ['ProcessingMs', VariantType.Float, 0, true],
  ['FinalSeq', VariantType.UInt32, 0, true],
  ['FinalPartId', VariantType.String, '', true],
  ['FinalVerdict', VariantType.Int16, 0, true],
  ['MissedCount', VariantType.UInt32, 0, true],
  ['Overrun', VariantType.Boolean, false, true],
  ['ErrorCode', VariantType.UInt16, 0, true],
  ['LoupeHeartbeat', VariantType.UInt16, 0, true],
];

const tag = (name: string) => `LoupeIF.${name}`;

/**
 * Loupe's PLC client against an OPC UA server that is not node-opcua: a
 * PLC written from the UA Binary mapping (test/helpers/opcua-wire), with a
 * data block of fixed types that refuses a write of any other type, as a
 * PLC does. The test is the PLC program: it raises Enable, beats its
 * heartbeat, and triggers parts one by one.
 */
describe('PLC handshake with an independent OPC UA server', () => {
  let line: PlcTestLine;
  let plc: WirePlcServer;
  let loupe: PlcRuntime;
  let beat: NodeJS.Timeout;
  let beating = true;

  beforeAll(async () => {
    // No uncertain band: every part gets pass or fail at once, so the PLC program needs no review path.
    line = await startPlcLine({ policy: { passBelow: 0.5, failAtOrAbove: 0.5, auditRate: 0 } });
    plc = new WirePlcServer();
    for (const [name, type, value, writable] of BLOCK) plc.define(tag(name), type, value, writable);
    await plc.start();
    let heartbeat = 0;
    beat = setInterval(() => {
      if (beating) plc.set(tag('PlcHeartbeat'), (heartbeat = (heartbeat + 1) % 65_536));
    }, 100);
    loupe = await startLoupePlc(line, { endpoint: plc.endpointUrl });
  });

  afterAll(async () => {
    clearInterval(beat);
    await loupe?.stop();
    await plc?.stop();
    await line?.close();
    await expectNoOpenSockets();
  });

  it('raises Ready, answers 20 triggers in sequence with the right part id and verdict, and writes only the declared types', async () => {
    plc.set(tag('Enable'), true);
    await waitUntil('Ready', () => plc.get(tag('Ready')) === true, 15_000, () => line.lines.filter((l) => l.level >= 40).map((l) => l.msg));
    const before = Number(plc.get(tag('LoupeHeartbeat')));
    await waitUntil('LoupeHeartbeat moving', () => Number(plc.get(tag('LoupeHeartbeat'))) !== before, 5000);

    const answered: { partId: string; verdict: number; ack: number }[] = [];
    for (let seq = 1; seq <= 20; seq++) {
      const partId = `W-${String(seq).padStart(3, '0')}`;
      // Part id first, then the counter: the order the handshake asks of the PLC.
      plc.set(tag('PartId'), partId);
      plc.set(tag('TriggerSeq'), seq);
      await waitUntil(`ResultSeq ${seq}`, () => plc.get(tag('ResultSeq')) === seq, 10_000, () => ({ resultSeq: plc.get(tag('ResultSeq')), error: plc.get(tag('ErrorCode')) }));
      answered.push({ partId: String(plc.get(tag('ResultPartId'))), verdict: Number(plc.get(tag('Verdict'))), ack: Number(plc.get(tag('TriggerAck'))) });
      plc.set(tag('ResultAckSeq'), seq);
    }

    expect(answered.map((a) => a.partId)).toEqual(Array.from({ length: 20 }, (_, i) => `W-${String(i + 1).padStart(3, '0')}`));
    expect(answered.map((a) => a.ack)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const stored = new Map(line.store.inspections.list({ station: line.station.id, limit: 100 }).map((i) => [i.partId, i]));
    for (const a of answered) {
      const i = stored.get(a.partId);
      expect(i, a.partId).toBeDefined();
      expect(a.verdict, a.partId).toBe(i?.modelVerdict === 'pass' ? 1 : 2);
    }
    expect(plc.get(tag('MissedCount'))).toBe(0);
    expect(plc.get(tag('Overrun'))).toBe(false);
    expect(plc.get(tag('ErrorCode'))).toBe(0);
    // Every write was accepted by the strict data block (a wrong type would have been refused and logged).
    expect(plc.writes.length).toBeGreaterThan(20 * 4);
    expect(line.lines.filter((l) => /LOUPE_ERR_PLC/.test(String(l.code ?? '')))).toEqual([]);
  });

  it('drops Ready when the PLC heartbeat stops and raises it again when it returns', async () => {
    await waitUntil('Ready', () => plc.get(tag('Ready')) === true, 5000);
    beating = false;
    await waitUntil('Ready dropped', () => plc.get(tag('Ready')) === false, 5000);
    beating = true;
    await waitUntil('Ready again', () => plc.get(tag('Ready')) === true, 5000);
  });
});
