import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A deliberately small OPC UA client written from the specification's
 * binary mapping (OPC 10000-6: UA TCP, UA Binary encoding, SecurityPolicy
 * None) with no OPC UA library. Loupe's server is built on node-opcua; a
 * test that talks to it through node-opcua's own client could pass on
 * something only node-opcua understands. PLCs, SCADA and MES use other
 * stacks, so this one shares no code with it: every byte is laid out here.
 *
 * It covers what a SCADA poller needs: Hello, OpenSecureChannel,
 * CreateSession, ActivateSession (anonymous), Read, Call, CloseSession,
 * CloseSecureChannel.
 */

const SECURITY_POLICY_NONE = 'http://opcfoundation.org/UA/SecurityPolicy#None';

/** DefaultBinary encoding ids of the service messages used (OPC 10000-6, NodeIds.csv). */
const Enc = {
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
} as const;

export type NodeId = { ns: number; id: number | string };

/** Built-in type ids of a Variant (OPC 10000-6, 5.1.2). */
export const VariantType = { Boolean: 1, Int32: 6, UInt32: 7, Double: 11, String: 12 } as const;

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

class Writer {
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
  variant(v: WireVariant): this {
    this.u8(v.type);
    switch (v.type) {
      case VariantType.Boolean:
        return this.u8(v.value ? 1 : 0);
      case VariantType.Int32:
        return this.i32(Number(v.value));
      case VariantType.UInt32:
        return this.u32(Number(v.value));
      case VariantType.Double:
        return this.f64(Number(v.value));
      case VariantType.String:
        return this.string(v.value === null ? null : String(v.value));
      default:
        throw new Error(`variant type ${v.type} is not written by this client`);
    }
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
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

interface UserTokenPolicy {
  policyId: string | null;
  tokenType: number;
}

interface EndpointDescription {
  endpointUrl: string | null;
  securityMode: number;
  securityPolicyUri: string | null;
  userIdentityTokens: UserTokenPolicy[];
}

function readEndpoint(r: Reader): EndpointDescription {
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

/** One TCP connection, one secure channel (SecurityPolicy None), at most one session. */
export class OpcUaWireClient {
  private socket: Socket | null = null;
  private inbox = Buffer.alloc(0);
  private waiting: { resolve: (m: { type: string; body: Buffer }) => void; reject: (e: Error) => void } | null = null;
  private channelId = 0;
  private tokenId = 0;
  private sequence = 1;
  private requestId = 1;
  private requestHandle = 1;
  /** The session's AuthenticationToken as the server encoded it (often a ByteString or Guid NodeId), echoed verbatim. */
  private authToken: Buffer = Buffer.from([0, 0]);
  private sessionOpen = false;
  /** Partial bodies of a message sent in several chunks. */
  private chunks: Buffer[] = [];

  constructor(private readonly endpointUrl: string) {}

  async connect(): Promise<void> {
    const url = new URL(this.endpointUrl.replace(/^opc\.tcp:/, 'http:'));
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));

    const hello = new Writer().u32(0).u32(65_536).u32(65_536).u32(0).u32(0).string(this.endpointUrl).done();
    this.send('HEL', 'F', hello);
    const ack = await this.next();
    if (ack.type !== 'ACK') throw new Error(`expected ACK, got ${ack.type}`);

    const open = new Writer()
      .u32(0)
      .string(SECURITY_POLICY_NONE)
      .bytes(null)
      .bytes(null)
      .u32(this.sequence++)
      .u32(this.requestId++)
      .nodeId({ ns: 0, id: Enc.OpenSecureChannelRequest })
      .raw(this.requestHeader())
      .u32(0) // ClientProtocolVersion
      .i32(0) // RequestType Issue
      .i32(1) // MessageSecurityMode None
      .bytes(Buffer.alloc(0))
      .u32(600_000)
      .done();
    this.send('OPN', 'F', open);
    const reply = await this.next();
    if (reply.type !== 'OPN') throw new Error(`expected OPN, got ${reply.type}`);
    const r = new Reader(reply.body);
    this.channelId = r.u32();
    r.string();
    r.bytes();
    r.bytes();
    r.u32();
    r.u32();
    this.expectType(r, Enc.OpenSecureChannelResponse);
    this.check(r.responseHeader().serviceResult, 'OpenSecureChannel');
    r.u32();
    r.u32(); // ChannelId again, inside the token
    this.tokenId = r.u32();
  }

  /** CreateSession + ActivateSession with the anonymous token the None endpoint offers. */
  async anonymousSession(): Promise<void> {
    const create = new Writer()
      .string('urn:loupe:test:wire-client')
      .string('urn:loupe:test')
      .u8(0x02)
      .string('wire client')
      .i32(1) // ApplicationType Client
      .string(null)
      .string(null)
      .i32(0)
      .string(null) // ServerUri
      .string(this.endpointUrl)
      .string('wire-session')
      .bytes(randomBytes(32)) // ClientNonce: servers refuse one seen before
      .bytes(null) // ClientCertificate
      .f64(60_000)
      .u32(0)
      .done();
    const r = await this.call(Enc.CreateSessionRequest, Enc.CreateSessionResponse, create, 'CreateSession');
    r.nodeId();
    this.authToken = r.rawNodeId();
    r.f64();
    r.bytes();
    r.bytes();
    const endpoints = r.array(() => readEndpoint(r));
    const none = endpoints.find((e) => e.securityPolicyUri === SECURITY_POLICY_NONE);
    const anonymous = none?.userIdentityTokens.find((t) => t.tokenType === 0);
    if (!anonymous) throw new Error(`the server offers no anonymous token on a None endpoint (${JSON.stringify(endpoints.map((e) => e.securityPolicyUri))})`);

    const token = new Writer().string(anonymous.policyId).done();
    const activate = new Writer()
      .string(null)
      .bytes(null) // ClientSignature
      .i32(0) // ClientSoftwareCertificates
      .i32(0) // LocaleIds
      .nodeId({ ns: 0, id: Enc.AnonymousIdentityToken })
      .u8(0x01)
      .bytes(token)
      .string(null)
      .bytes(null) // UserTokenSignature
      .done();
    await this.call(Enc.ActivateSessionRequest, Enc.ActivateSessionResponse, activate, 'ActivateSession');
    this.sessionOpen = true;
  }

  /** Read the Value attribute of each node. */
  async read(nodes: NodeId[]): Promise<WireDataValue[]> {
    const w = new Writer().f64(0).i32(3).i32(nodes.length); // MaxAge, TimestampsToReturn Neither
    for (const n of nodes) w.nodeId(n).u32(13).string(null).u16(0).string(null);
    const r = await this.call(Enc.ReadRequest, Enc.ReadResponse, w.done(), 'Read');
    return r.array(() => r.dataValue());
  }

  /** Call one method; returns its status and output arguments. */
  async callMethod(objectId: NodeId, methodId: NodeId, inputs: WireVariant[]): Promise<{ status: number; outputs: WireVariant[] }> {
    const w = new Writer().i32(1).nodeId(objectId).nodeId(methodId).i32(inputs.length);
    for (const v of inputs) w.variant(v);
    const r = await this.call(Enc.CallRequest, Enc.CallResponse, w.done(), 'Call');
    const [result] = r.array(() => {
      const status = r.u32();
      r.array(() => r.u32());
      r.array(() => r.diagnosticInfo());
      const outputs = r.array(() => r.variant());
      return { status, outputs };
    });
    if (!result) throw new Error('Call returned no result');
    return result;
  }

  /** CloseSession; the channel stays open. */
  async closeSession(): Promise<void> {
    await this.call(Enc.CloseSessionRequest, Enc.CloseSessionResponse, new Writer().u8(1).done(), 'CloseSession');
    this.sessionOpen = false;
  }

  /** CloseSession if one is open, then CloseSecureChannel and the connection. */
  async close(): Promise<void> {
    if (!this.socket) return;
    if (this.sessionOpen) await this.closeSession();
    const body = new Writer().nodeId({ ns: 0, id: Enc.CloseSecureChannelRequest }).raw(this.requestHeader()).done();
    this.send('CLO', 'F', new Writer().u32(this.channelId).u32(this.tokenId).u32(this.sequence++).u32(this.requestId++).raw(body).done());
    const socket = this.socket;
    this.socket = null;
    await new Promise<void>((resolve) => socket.end(resolve));
    socket.destroy();
  }

  private requestHeader(): Buffer {
    return new Writer().raw(this.authToken).dateTime(new Date()).u32(this.requestHandle++).u32(0).string(null).u32(10_000).emptyExtensionObject().done();
  }

  private async call(requestType: number, responseType: number, body: Buffer, what: string): Promise<Reader> {
    const msg = new Writer()
      .u32(this.channelId)
      .u32(this.tokenId)
      .u32(this.sequence++)
      .u32(this.requestId++)
      .nodeId({ ns: 0, id: requestType })
      .raw(this.requestHeader())
      .raw(body)
      .done();
    this.send('MSG', 'F', msg);
    const reply = await this.next();
    if (reply.type !== 'MSG') throw new Error(`${what}: expected MSG, got ${reply.type}`);
    const r = new Reader(reply.body);
    const type = r.nodeId();
    const header = r.responseHeader();
    if (type.id === Enc.ServiceFault) throw new OpcUaWireError(`${what} answered with a ServiceFault`, header.serviceResult);
    if (type.id !== responseType) throw new Error(`${what}: expected response type ${responseType}, got ${String(type.id)}`);
    this.check(header.serviceResult, what);
    return r;
  }

  private expectType(r: Reader, id: number): void {
    const t = r.nodeId();
    if (t.id !== id) throw new Error(`expected message type ${id}, got ${String(t.id)}`);
  }

  private check(status: number, what: string): void {
    if (status >>> 30 !== 0) throw new OpcUaWireError(`${what} failed`, status);
  }

  private send(type: string, chunk: string, body: Buffer): void {
    const header = Buffer.alloc(8);
    header.write(type + chunk, 0, 'ascii');
    header.writeUInt32LE(body.length + 8, 4);
    this.socket?.write(Buffer.concat([header, body]));
  }

  private next(): Promise<{ type: string; body: Buffer }> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.drain();
    });
  }

  private onData(d: Buffer): void {
    this.inbox = Buffer.concat([this.inbox, d]);
    this.drain();
  }

  private drain(): void {
    while (this.waiting && this.inbox.length >= 8) {
      const size = this.inbox.readUInt32LE(4);
      if (this.inbox.length < size) return;
      const type = this.inbox.toString('ascii', 0, 3);
      const chunk = this.inbox.toString('ascii', 3, 4);
      const body = this.inbox.subarray(8, size);
      this.inbox = this.inbox.subarray(size);
      if (type === 'ERR') {
        const r = new Reader(body);
        const status = r.u32();
        this.fail(new OpcUaWireError(`server sent ERR: ${r.string() ?? ''}`, status));
        return;
      }
      if (type === 'MSG' && chunk !== 'F') {
        // Intermediate chunk (C) or abort (A): keep the body after the security and sequence headers.
        if (chunk === 'C') this.chunks.push(body.subarray(16));
        else this.chunks = [];
        continue;
      }
      const waiter = this.waiting;
      this.waiting = null;
      // MSG bodies lose their channel, token and sequence headers (16 bytes); OPN keeps its own for the caller.
      const payload = type === 'MSG' ? Buffer.concat([...this.chunks, body.subarray(16)]) : body;
      this.chunks = [];
      waiter.resolve({ type, body: payload });
    }
  }

  private fail(err: Error): void {
    const waiter = this.waiting;
    this.waiting = null;
    waiter?.reject(err);
  }
}
