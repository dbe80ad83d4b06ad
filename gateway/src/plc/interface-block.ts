import { DataType } from 'node-opcua';
import { OPTIONAL_PLC_TAGS, PLC_TAG_NAMES, type PlcBlockConfig, type PlcTagName } from '../config/sections/plc.js';

/**
 * The interface block: the tags Loupe and the PLC exchange, who writes each,
 * and which OPC UA data types each may be declared with on the PLC. Loupe
 * writes with the type the PLC declares (S7 `Int` = Int16, `UDInt` = UInt32,
 * `Real` = Float, ...), so one table serves S7, TwinCAT and Codesys alike.
 */

/** What a tag carries; decides which declared types fit and how values are converted. */
export type TagKind = 'bool' | 'counter' | 'string' | 'code' | 'number' | 'id' | 'heartbeat';

export interface TagSpec {
  /** `in`: the PLC writes it, Loupe reads it. `out`: Loupe writes it. */
  dir: 'in' | 'out';
  kind: TagKind;
  /** Data type the simulator declares and docs/plc.md recommends. */
  recommended: DataType;
}

const INTEGERS = [DataType.Byte, DataType.SByte, DataType.UInt16, DataType.Int16, DataType.UInt32, DataType.Int32] as const;

/** Declared types each kind accepts. 64-bit integers are left out: S7 and Codesys PLCs rarely use them and JavaScript numbers cannot hold them. */
export const ACCEPTED_TYPES: Record<TagKind, readonly DataType[]> = {
  bool: [DataType.Boolean],
  counter: [DataType.UInt32, DataType.UInt16, DataType.Int32, DataType.Int16, DataType.Byte],
  string: [DataType.String],
  code: INTEGERS,
  number: [...INTEGERS, DataType.Float, DataType.Double],
  id: [DataType.String, ...INTEGERS],
  heartbeat: [...INTEGERS, DataType.Boolean],
};

export const TAGS: Record<PlcTagName, TagSpec> = {
  Enable: { dir: 'in', kind: 'bool', recommended: DataType.Boolean },
  TriggerSeq: { dir: 'in', kind: 'counter', recommended: DataType.UInt32 },
  PartId: { dir: 'in', kind: 'string', recommended: DataType.String },
  RecipeId: { dir: 'in', kind: 'id', recommended: DataType.UInt16 },
  ResultAckSeq: { dir: 'in', kind: 'counter', recommended: DataType.UInt32 },
  FinalAckSeq: { dir: 'in', kind: 'counter', recommended: DataType.UInt32 },
  PlcHeartbeat: { dir: 'in', kind: 'heartbeat', recommended: DataType.UInt16 },
  Ready: { dir: 'out', kind: 'bool', recommended: DataType.Boolean },
  TriggerAck: { dir: 'out', kind: 'counter', recommended: DataType.UInt32 },
  Busy: { dir: 'out', kind: 'bool', recommended: DataType.Boolean },
  ResultSeq: { dir: 'out', kind: 'counter', recommended: DataType.UInt32 },
  ResultPartId: { dir: 'out', kind: 'string', recommended: DataType.String },
  Verdict: { dir: 'out', kind: 'code', recommended: DataType.Int16 },
  ResultState: { dir: 'out', kind: 'code', recommended: DataType.Int32 },
  IsPartial: { dir: 'out', kind: 'bool', recommended: DataType.Boolean },
  ProcessingMs: { dir: 'out', kind: 'number', recommended: DataType.Float },
  FinalSeq: { dir: 'out', kind: 'counter', recommended: DataType.UInt32 },
  FinalPartId: { dir: 'out', kind: 'string', recommended: DataType.String },
  FinalVerdict: { dir: 'out', kind: 'code', recommended: DataType.Int16 },
  MissedCount: { dir: 'out', kind: 'counter', recommended: DataType.UInt32 },
  Overrun: { dir: 'out', kind: 'bool', recommended: DataType.Boolean },
  ErrorCode: { dir: 'out', kind: 'code', recommended: DataType.UInt16 },
  LoupeHeartbeat: { dir: 'out', kind: 'heartbeat', recommended: DataType.UInt16 },
};

export const INPUT_TAGS = PLC_TAG_NAMES.filter((t) => TAGS[t].dir === 'in');
export const OUTPUT_TAGS = PLC_TAG_NAMES.filter((t) => TAGS[t].dir === 'out');

export function isOptionalTag(tag: PlcTagName): boolean {
  return (OPTIONAL_PLC_TAGS as readonly string[]).includes(tag);
}

/**
 * Node id of every tag of a block, as written in config: the override, else
 * the template. Optional tags set to null are absent from the map.
 */
export function blockNodeIds(block: PlcBlockConfig): Map<PlcTagName, string> {
  const ids = new Map<PlcTagName, string>();
  for (const tag of PLC_TAG_NAMES) {
    const override = block.tags[tag];
    if (override === null) continue;
    ids.set(tag, override ?? block.nodeIdTemplate.replaceAll('{tag}', tag));
  }
  return ids;
}

/** Replace the `ns=` index of a node id (namespace indexes are per server and may change when a PLC program is reloaded). */
export function withNamespaceIndex(nodeId: string, index: number): string {
  return /^ns=\d+;/.test(nodeId) ? nodeId.replace(/^ns=\d+;/, `ns=${index};`) : `ns=${index};${nodeId}`;
}

export function dataTypeName(t: DataType): string {
  return DataType[t] ?? `DataType ${t}`;
}
