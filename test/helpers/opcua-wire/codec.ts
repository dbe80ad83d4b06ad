/**
 * UA Binary encoding (OPC 10000-6, 5.2) and UA TCP framing, written from the
 * specification for the tests' own OPC UA peers. Shares no code with
 * node-opcua, so a peer built on it checks Loupe against the standard
 * rather than against node-opcua's reading of it.
 */

export const SECURITY_POLICY_NONE = 'http://opcfoundation.org/UA/SecurityPolicy#None';
export const UATCP_PROFILE = 'http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary';

/** DefaultBinary encoding ids of the service messages used (OPC 10000-6, NodeIds.csv). */
export const Enc = {
  ServiceFault: 397,
  OpenSecureChannelRequest: 446,
  OpenSecureChannelResponse: 449,
  CloseSecureChannelRequest: 452,
  CreateSessionRequest: 461,
  CreateSessionResponse: 464,
  ActivateSessionRequest: 467,
  ActivateSessionResponse: 470,
  CloseSessionRequest: 473,
  CloseSessionResponse: 476,
  ReadRequest: 631,
  ReadResponse: 634,
  CallRequest: 712,
  CallResponse: 715,
  AnonymousIdentityToken: 321,
  GetEndpointsRequest: 428,
  GetEndpointsResponse: 431,
  WriteRequest: 673,
  WriteResponse: 676,
  CreateMonitoredItemsRequest: 751,
  CreateMonitoredItemsResponse: 754,
  DeleteMonitoredItemsRequest: 781,
  DeleteMonitoredItemsResponse: 784,
  CreateSubscriptionRequest: 787,
  CreateSubscriptionResponse: 790,
  DataChangeNotification: 811,
  PublishRequest: 826,
  PublishResponse: 829,
  RepublishRequest: 832,
  RepublishResponse: 835,
  DeleteSubscriptionsRequest: 847,
  DeleteSubscriptionsResponse: 850,
} as const;

export type NodeId = { ns: number; id: number | string };

/** Built-in type ids of a Variant (OPC 10000-6, 5.1.2). */
export const VariantType = { Boolean: 1, Byte: 3, Int16: 4, UInt16: 5, Int32: 6, UInt32: 7, Float: 10, Double: 11, String: 12, DateTime: 13, NodeId: 17 } as const;

export interface WireVariant {
  type: number;
  value: unknown;
}

export interface WireDataValue {
  value: WireVariant | null;
  status: number;
}

export class OpcUaWireError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(`${message} (0x${status.toString(16).padStart(8, '0')})`);
  }
}

export class Writer {
  private parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.parts.push(b);
    return this;
  }
  f64(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.parts.push(b);
    return this;
  }
  /** DateTime: 100 ns ticks since 1601-01-01 UTC. */
  dateTime(d: Date): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(d.getTime()) * 10_000n + 116_444_736_000_000_000n);
    this.parts.push(b);
    return this;
  }
  string(s: string | null): this {
    if (s === null) return this.i32(-1);
    const b = Buffer.from(s, 'utf8');
    this.i32(b.length);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer | null): this {
    if (b === null) return this.i32(-1);
    this.i32(b.length);
    this.parts.push(b);
    return this;
  }
  nodeId(n: NodeId): this {
    if (typeof n.id === 'string') return this.u8(0x03).u16(n.ns).string(n.id);
    if (n.ns === 0 && n.id <= 0xff) return this.u8(0x00).u8(n.id);
    if (n.ns <= 0xff && n.id <= 0xffff) return this.u8(0x01).u8(n.ns).u16(n.id);
    return this.u8(0x02).u16(n.ns).u32(n.id);
  }
  /** An ExtensionObject with no body. */
  emptyExtensionObject(): this {
    return this.nodeId({ ns: 0, id: 0 }).u8(0x00);
  }
  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16LE(v);
    this.parts.push(b);
    return this;
  }
  f32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.parts.push(b);
    return this;
  }
  localizedText(text: string): this {
    return this.u8(0x02).string(text);
  }
  array<T>(items: readonly T[] | null, write: (item: T) => void): this {
    if (items === null) return this.i32(-1);
    this.i32(items.length);
    for (const item of items) write(item);
    return this;
  }
  variant(v: WireVariant): this {
    const many = Array.isArray(v.value);
    this.u8(v.type | (many ? 0x80 : 0));
    if (many) return this.array(v.value as unknown[], (x) => this.scalar(v.type, x));
    return this.scalar(v.type, v.value);
  }
  private scalar(type: number, value: unknown): this {
    switch (type) {
      case VariantType.Boolean:
        return this.u8(value ? 1 : 0);
      case VariantType.Byte:
        return this.u8(Number(value));
      case VariantType.Int16:
        return this.i16(Number(value));
      case VariantType.UInt16:
        return this.u16(Number(value));
      case VariantType.Int32:
        return this.i32(Number(value));
      case VariantType.UInt32:
        return this.u32(Number(value));
      case VariantType.Float:
        return this.f32(Number(value));
      case VariantType.Double:
        return this.f64(Number(value));
      case VariantType.String:
        return this.string(value === null ? null : String(value));
      case VariantType.DateTime:
        return this.dateTime(value as Date);
      case VariantType.NodeId:
        return this.nodeId(value as NodeId);
      default:
        throw new Error(`variant type ${type} is not written here`);
    }
  }
  /** DataValue with a value, or only a status when `value` is null. */
  dataValue(value: WireVariant | null, status = 0): this {
    if (value === null) return this.u8(0x02).u32(status);
    return status === 0 ? this.u8(0x01).variant(value) : this.u8(0x03).variant(value).u32(status);
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  u8(): number {
    return this.b.readUInt8(this.at++);
  }
  i8(): number {
    return this.b.readInt8(this.at++);
  }
  u16(): number {
    const v = this.b.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  i16(): number {
    const v = this.b.readInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    const v = this.b.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  i32(): number {
    const v = this.b.readInt32LE(this.at);
    this.at += 4;
    return v;
  }
  i64(): bigint {
    const v = this.b.readBigInt64LE(this.at);
    this.at += 8;
    return v;
  }
  u64(): bigint {
    const v = this.b.readBigUInt64LE(this.at);
    this.at += 8;
    return v;
  }
  f32(): number {
    const v = this.b.readFloatLE(this.at);
    this.at += 4;
    return v;
  }
  f64(): number {
    const v = this.b.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }
  dateTime(): Date | null {
    const ticks = this.i64();
    if (ticks === 0n) return null;
    return new Date(Number((ticks - 116_444_736_000_000_000n) / 10_000n));
  }
  string(): string | null {
    const n = this.i32();
    if (n < 0) return null;
    const s = this.b.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
  bytes(): Buffer | null {
    const n = this.i32();
    if (n < 0) return null;
    const s = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return s;
  }
  array<T>(item: () => T): T[] {
    const n = this.i32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }
  guid(): string {
    const g = this.b.subarray(this.at, this.at + 16).toString('hex');
    this.at += 16;
    return g;
  }
  nodeId(): NodeId {
    const enc = this.u8();
    const kind = enc & 0x3f;
    let n: NodeId;
    if (kind === 0x00) n = { ns: 0, id: this.u8() };
    else if (kind === 0x01) n = { ns: this.u8(), id: this.u16() };
    else if (kind === 0x02) n = { ns: this.u16(), id: this.u32() };
    else if (kind === 0x03) n = { ns: this.u16(), id: this.string() ?? '' };
    else if (kind === 0x04) n = { ns: this.u16(), id: this.guid() };
    else if (kind === 0x05) n = { ns: this.u16(), id: (this.bytes() ?? Buffer.alloc(0)).toString('base64') };
    else throw new Error(`NodeId encoding 0x${enc.toString(16)} unknown`);
    // ExpandedNodeId flags: namespace URI, server index.
    if (enc & 0x80) this.string();
    if (enc & 0x40) this.u32();
    return n;
  }
  /** A NodeId's bytes as they are on the wire. */
  rawNodeId(): Buffer {
    const from = this.at;
    this.nodeId();
    return Buffer.from(this.b.subarray(from, this.at));
  }
  localizedText(): { locale: string | null; text: string | null } {
    const mask = this.u8();
    return { locale: mask & 0x01 ? this.string() : null, text: mask & 0x02 ? this.string() : null };
  }
  qualifiedName(): { ns: number; name: string | null } {
    return { ns: this.u16(), name: this.string() };
  }
  /** ReadValueId: the node and attribute (index range and data encoding are read past). */
  readValueId(): { node: NodeId; attribute: number } {
    const node = this.nodeId();
    const attribute = this.u32();
    this.string();
    this.qualifiedName();
    return { node, attribute };
  }
  diagnosticInfo(): void {
    const mask = this.u8();
    if (mask & 0x01) this.i32();
    if (mask & 0x02) this.i32();
    if (mask & 0x08) this.i32();
    if (mask & 0x04) this.i32();
    if (mask & 0x10) this.string();
    if (mask & 0x20) this.u32();
    if (mask & 0x40) this.diagnosticInfo();
  }
  extensionObject(): { typeId: NodeId; body: Buffer | null } {
    const typeId = this.nodeId();
    const enc = this.u8();
    return { typeId, body: enc === 0 ? null : this.bytes() };
  }
  variant(): WireVariant {
    const enc = this.u8();
    const type = enc & 0x3f;
    const scalar = (): unknown => {
      switch (type) {
        case 0:
          return null;
        case 1:
          return this.u8() !== 0;
        case 2:
          return this.i8();
        case 3:
          return this.u8();
        case 4:
          return this.i16();
        case 5:
          return this.u16();
        case 6:
          return this.i32();
        case 7:
          return this.u32();
        case 8:
          return this.i64();
        case 9:
          return this.u64();
        case 10:
          return this.f32();
        case 11:
          return this.f64();
        case 12:
          return this.string();
        case 13:
          return this.dateTime();
        case 15:
          return this.bytes();
        case 17:
          return this.nodeId();
        case 19:
          return this.u32();
        case 20:
          return this.qualifiedName();
        case 21:
          return this.localizedText();
        case 22:
          return this.extensionObject();
        default:
          throw new Error(`variant type ${type} is not read by this client`);
      }
    };
    const value = enc & 0x80 ? this.array(scalar) : scalar();
    if (enc & 0x40) this.array(() => this.i32());
    return { type, value };
  }
  dataValue(): WireDataValue {
    const mask = this.u8();
    const value = mask & 0x01 ? this.variant() : null;
    const status = mask & 0x02 ? this.u32() : 0;
    if (mask & 0x04) this.dateTime();
    if (mask & 0x10) this.u16();
    if (mask & 0x08) this.dateTime();
    if (mask & 0x20) this.u16();
    return { value, status };
  }
  responseHeader(): { serviceResult: number } {
    this.dateTime();
    this.u32();
    const serviceResult = this.u32();
    this.diagnosticInfo();
    this.array(() => this.string());
    this.extensionObject();
    return { serviceResult };
  }
  rest(): Buffer {
    return this.b.subarray(this.at);
  }
}

export interface UserTokenPolicy {
  policyId: string | null;
  tokenType: number;
}

export interface EndpointDescription {
  endpointUrl: string | null;
  securityMode: number;
  securityPolicyUri: string | null;
  userIdentityTokens: UserTokenPolicy[];
}

/** An EndpointDescription with SecurityPolicy None and an anonymous user token. */
export function writeNoneEndpoint(w: Writer, endpointUrl: string, applicationUri: string): void {
  w.string(endpointUrl)
    .string(applicationUri)
    .string(applicationUri)
    .localizedText('test PLC')
    .i32(0) // ApplicationType Server
    .string(null)
    .string(null)
    .array([endpointUrl], (u) => w.string(u))
    .bytes(null)
    .i32(1) // MessageSecurityMode None
    .string(SECURITY_POLICY_NONE)
    .array(['anonymous'], (id) => w.string(id).i32(0).string(null).string(null).string(null))
    .string(UATCP_PROFILE)
    .u8(0);
}

/** UA TCP message: type (HEL, ACK, OPN, MSG, CLO, ERR), chunk (F, C, A), then the body. */
export function frame(type: string, chunk: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(type + chunk, 0, 'ascii');
  header.writeUInt32LE(body.length + 8, 4);
  return Buffer.concat([header, body]);
}

/** Cuts a TCP byte stream into UA TCP messages. */
export class MessageStream {
  private inbox = Buffer.alloc(0);
  push(d: Buffer): { type: string; chunk: string; body: Buffer }[] {
    this.inbox = Buffer.concat([this.inbox, d]);
    const out: { type: string; chunk: string; body: Buffer }[] = [];
    while (this.inbox.length >= 8) {
      const size = this.inbox.readUInt32LE(4);
      if (this.inbox.length < size) break;
      out.push({ type: this.inbox.toString('ascii', 0, 3), chunk: this.inbox.toString('ascii', 3, 4), body: Buffer.from(this.inbox.subarray(8, size)) });
      this.inbox = this.inbox.subarray(size);
    }
    return out;
  }
}

export function readEndpoint(r: Reader): EndpointDescription {
  const endpointUrl = r.string();
  // ApplicationDescription of the server.
  r.string();
  r.string();
  r.localizedText();
  r.i32();
  r.string();
  r.string();
  r.array(() => r.string());
  r.bytes();
  const securityMode = r.i32();
  const securityPolicyUri = r.string();
  const userIdentityTokens = r.array(() => {
    const policyId = r.string();
    const tokenType = r.i32();
    r.string();
    r.string();
    r.string();
    return { policyId, tokenType };
  });
  r.string();
  r.u8();
  return { endpointUrl, securityMode, securityPolicyUri, userIdentityTokens };
}

