import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Enc, frame, OpcUaWireError, readEndpoint, Reader, SECURITY_POLICY_NONE, Writer, type NodeId, type WireDataValue, type WireVariant } from './codec.js';

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
 * CloseSecureChannel. One TCP connection, one secure channel, at most one
 * session.
 */
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
    this.socket?.write(frame(type, chunk, body));
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
