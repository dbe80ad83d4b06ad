import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Enc, frame, MessageStream, Reader, SECURITY_POLICY_NONE, VariantType, Writer, writeNoneEndpoint, type WireVariant } from './codec.js';

/** Standard status codes (OPC 10000-6, StatusCode.csv). */
const Status = {
  Good: 0,
  BadServiceUnsupported: 0x800b0000,
  BadSessionIdInvalid: 0x80250000,
  BadSubscriptionIdInvalid: 0x80280000,
  BadNodeIdUnknown: 0x80340000,
  BadAttributeIdInvalid: 0x80350000,
  BadNoSubscription: 0x80790000,
  BadMessageNotAvailable: 0x807b0000,
  BadTypeMismatch: 0x80740000,
  BadNotWritable: 0x803b0000,
} as const;

const Attr = { Value: 13, DataType: 14, ValueRank: 15, AccessLevel: 17, UserAccessLevel: 18 } as const;

interface Variable {
  type: number;
  value: unknown;
  writable: boolean;
}

interface MonitoredItem {
  id: number;
  clientHandle: number;
  key: string;
}

interface PendingPublish {
  conn: Connection;
  requestId: number;
  requestHandle: number;
  /** Subscription acknowledgements in the request. */
  acks: number;
}

interface Subscription {
  id: number;
  intervalMs: number;
  keepAliveCount: number;
  items: MonitoredItem[];
  /** Changed values not yet sent, by client handle (latest wins, as a queue size of 1 would). */
  changes: Map<number, WireVariant>;
  idleTicks: number;
  sequence: number;
  timer: NodeJS.Timeout;
}

interface Connection {
  socket: Socket;
  channelId: number;
  tokenId: number;
  sequence: number;
}

/**
 * A minimal OPC UA server in the role of a PLC, written from the UA Binary
 * mapping with no OPC UA library: Hello, OpenSecureChannel (None),
 * GetEndpoints, CreateSession, ActivateSession (anonymous), Read (Value,
 * DataType, ValueRank, AccessLevel, UserAccessLevel), Write with strict type
 * checks, CreateSubscription, CreateMonitoredItems, Publish with data
 * changes and keep-alives, DeleteSubscriptions, CloseSession. Anything else
 * gets BadServiceUnsupported, as a small PLC server would answer.
 *
 * Variables live in namespace 1 with string ids; `set` is the PLC program
 * writing a tag, `get` reads what the client wrote.
 */
export class WirePlcServer {
  private server: Server | null = null;
  private readonly variables = new Map<string, Variable>();
  private readonly sessions = new Set<string>();
  private readonly subscriptions = new Map<number, Subscription>();
  private readonly publishQueue: PendingPublish[] = [];
  private readonly connections = new Set<Connection>();
  private nextId = 1;
  /** Every write the client made, in order: node key and value. */
  readonly writes: { key: string; value: unknown }[] = [];
  endpointUrl = '';

  static readonly namespaceUri = 'urn:loupe:test:wire-plc';

  define(key: string, type: number, value: unknown, writable: boolean): void {
    this.variables.set(key, { type, value, writable });
  }

  get(key: string): unknown {
    return this.variables.get(key)?.value;
  }

  /** The PLC program changes a tag: subscribers see it on their next publish. */
  set(key: string, value: unknown): void {
    const v = this.variables.get(key);
    if (!v) throw new Error(`no variable ${key}`);
    v.value = value;
    this.changed(key, v);
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.endpointUrl = `opc.tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.subscriptions.values()) clearInterval(s.timer);
    this.subscriptions.clear();
    for (const c of this.connections) c.socket.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const conn: Connection = { socket, channelId: 0, tokenId: 0, sequence: 1 };
    this.connections.add(conn);
    const stream = new MessageStream();
    socket.on('data', (d: Buffer) => {
      for (const m of stream.push(d)) this.onMessage(conn, m.type, m.body);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.connections.delete(conn));
  }

  private onMessage(conn: Connection, type: string, body: Buffer): void {
    const r = new Reader(body);
    if (type === 'HEL') {
      r.u32();
      const receive = r.u32();
      const send = r.u32();
      conn.socket.write(frame('ACK', 'F', new Writer().u32(0).u32(Math.min(send, 65_536)).u32(Math.min(receive, 65_536)).u32(0).u32(0).done()));
      return;
    }
    if (type === 'OPN') return this.openChannel(conn, r);
    if (type === 'CLO') {
      conn.socket.end();
      return;
    }
    if (type !== 'MSG') return;
    r.u32();
    r.u32();
    r.u32();
    const requestId = r.u32();
    const requestType = r.nodeId().id as number;
    const authToken = r.rawNodeId().toString('hex');
    r.dateTime();
    const requestHandle = r.u32();
    r.u32();
    r.string();
    r.u32();
    r.extensionObject();
    const reply = (responseType: number, write: (w: Writer) => void) => this.respond(conn, requestId, requestHandle, responseType, write);
    const fault = (status: number) => this.respond(conn, requestId, requestHandle, Enc.ServiceFault, () => undefined, status);

    const sessionless = requestType === Enc.GetEndpointsRequest || requestType === Enc.CreateSessionRequest || requestType === Enc.ActivateSessionRequest;
    if (!sessionless && !this.sessions.has(authToken)) return fault(Status.BadSessionIdInvalid);
    switch (requestType) {
      case Enc.GetEndpointsRequest:
        return reply(Enc.GetEndpointsResponse, (w) => w.array([0], () => writeNoneEndpoint(w, this.endpointUrl, 'urn:loupe:test:wire-plc')));
      case Enc.CreateSessionRequest: {
        const token = new Writer().nodeId({ ns: 1, id: this.nextId++ }).done();
        this.sessions.add(token.toString('hex'));
        return reply(Enc.CreateSessionResponse, (w) => {
          w.nodeId({ ns: 1, id: this.nextId++ })
            .raw(token)
            .f64(60_000)
            .bytes(randomBytes(32))
            .bytes(null)
            .array([0], () => writeNoneEndpoint(w, this.endpointUrl, 'urn:loupe:test:wire-plc'))
            .i32(0)
            .string(null)
            .bytes(null)
            .u32(0);
        });
      }
      case Enc.ActivateSessionRequest:
        if (!this.sessions.has(authToken)) return fault(Status.BadSessionIdInvalid);
        return reply(Enc.ActivateSessionResponse, (w) => w.bytes(randomBytes(32)).i32(0).i32(0));
      case Enc.CloseSessionRequest:
        this.sessions.delete(authToken);
        return reply(Enc.CloseSessionResponse, () => undefined);
      case Enc.ReadRequest:
        return this.read(r, reply);
      case Enc.WriteRequest:
        return this.write(r, reply);
      case Enc.CreateSubscriptionRequest:
        return this.createSubscription(r, reply);
      case Enc.CreateMonitoredItemsRequest:
        return this.createMonitoredItems(r, reply, fault);
      case Enc.PublishRequest:
        return this.publish(conn, r, requestId, requestHandle, fault);
      case Enc.RepublishRequest:
        return fault(Status.BadMessageNotAvailable);
      case Enc.DeleteSubscriptionsRequest: {
        const ids = r.array(() => r.u32());
        return reply(Enc.DeleteSubscriptionsResponse, (w) =>
          w.array(ids, (id) => {
            const s = this.subscriptions.get(id);
            if (s) clearInterval(s.timer);
            w.u32(this.subscriptions.delete(id) ? Status.Good : Status.BadSubscriptionIdInvalid);
          }).i32(0),
        );
      }
      default:
        return fault(Status.BadServiceUnsupported);
    }
  }

  private openChannel(conn: Connection, r: Reader): void {
    r.u32();
    const policy = r.string();
    r.bytes();
    r.bytes();
    r.u32();
    const requestId = r.u32();
    if (policy !== SECURITY_POLICY_NONE) {
      conn.socket.end(frame('ERR', 'F', new Writer().u32(0x80550000).string('only SecurityPolicy None here').done()));
      return;
    }
    r.nodeId();
    r.rawNodeId();
    r.dateTime();
    const requestHandle = r.u32();
    conn.channelId = conn.channelId || this.nextId++;
    conn.tokenId = this.nextId++;
    const body = new Writer()
      .u32(conn.channelId)
      .string(SECURITY_POLICY_NONE)
      .bytes(null)
      .bytes(null)
      .u32(conn.sequence++)
      .u32(requestId)
      .nodeId({ ns: 0, id: Enc.OpenSecureChannelResponse })
      .raw(responseHeader(requestHandle, Status.Good))
      .u32(0)
      .u32(conn.channelId)
      .u32(conn.tokenId)
      .dateTime(new Date())
      .u32(3_600_000)
      .bytes(Buffer.alloc(0))
      .done();
    conn.socket.write(frame('OPN', 'F', body));
  }

  private respond(conn: Connection, requestId: number, requestHandle: number, responseType: number, write: (w: Writer) => void, status: number = Status.Good): void {
    const w = new Writer().u32(conn.channelId).u32(conn.tokenId).u32(conn.sequence++).u32(requestId).nodeId({ ns: 0, id: responseType }).raw(responseHeader(requestHandle, status));
    write(w);
    if (!conn.socket.destroyed) conn.socket.write(frame('MSG', 'F', w.done()));
  }

  private read(r: Reader, reply: (type: number, write: (w: Writer) => void) => void): void {
    r.f64();
    r.i32();
    const nodes = r.array(() => r.readValueId());
    reply(Enc.ReadResponse, (w) => {
      w.array(nodes, ({ node, attribute }) => {
        if (node.ns === 0 && node.id === 2255 && attribute === Attr.Value) {
          w.dataValue({ type: VariantType.String, value: ['http://opcfoundation.org/UA/', WirePlcServer.namespaceUri] });
          return;
        }
        if (node.ns === 0 && node.id === 2259 && attribute === Attr.Value) {
          w.dataValue({ type: VariantType.Int32, value: 0 }); // ServerState Running
          return;
        }
        if (node.ns === 0 && node.id === 2258 && attribute === Attr.Value) {
          w.dataValue({ type: VariantType.DateTime, value: new Date() });
          return;
        }
        const v = node.ns === 1 ? this.variables.get(String(node.id)) : undefined;
        if (!v) return void w.dataValue(null, Status.BadNodeIdUnknown);
        if (attribute === Attr.Value) w.dataValue({ type: v.type, value: v.value });
        else if (attribute === Attr.DataType) w.dataValue({ type: VariantType.NodeId, value: { ns: 0, id: v.type } });
        else if (attribute === Attr.ValueRank) w.dataValue({ type: VariantType.Int32, value: -1 });
        else if (attribute === Attr.AccessLevel || attribute === Attr.UserAccessLevel) w.dataValue({ type: VariantType.Byte, value: v.writable ? 3 : 1 });
        else w.dataValue(null, Status.BadAttributeIdInvalid);
      }).i32(0);
    });
  }

  private write(r: Reader, reply: (type: number, write: (w: Writer) => void) => void): void {
    const items = r.array(() => {
      const node = r.nodeId();
      const attribute = r.u32();
      r.string();
      const dv = r.dataValue();
      return { node, attribute, dv };
    });
    const results = items.map(({ node, attribute, dv }) => {
      const key = String(node.id);
      const v = node.ns === 1 ? this.variables.get(key) : undefined;
      if (!v) return Status.BadNodeIdUnknown;
      if (attribute !== Attr.Value) return Status.BadNotWritable;
      if (!v.writable) return Status.BadNotWritable;
      // A PLC data block has fixed types: a UInt32 tag takes a UInt32, nothing else.
      if (dv.value?.type !== v.type || Array.isArray(dv.value.value)) return Status.BadTypeMismatch;
      v.value = dv.value.value;
      this.writes.push({ key, value: v.value });
      this.changed(key, v);
      return Status.Good;
    });
    reply(Enc.WriteResponse, (w) => w.array(results, (s) => w.u32(s)).i32(0));
  }

  private createSubscription(r: Reader, reply: (type: number, write: (w: Writer) => void) => void): void {
    const requested = r.f64();
    r.u32();
    const keepAlive = r.u32();
    const intervalMs = Math.max(20, requested);
    const keepAliveCount = Math.max(1, keepAlive);
    const id = this.nextId++;
    const sub: Subscription = { id, intervalMs, keepAliveCount, items: [], changes: new Map(), idleTicks: 0, sequence: 1, timer: setInterval(() => this.tick(sub), intervalMs) };
    this.subscriptions.set(id, sub);
    reply(Enc.CreateSubscriptionResponse, (w) => w.u32(id).f64(intervalMs).u32(keepAliveCount * 3).u32(keepAliveCount));
  }

  private createMonitoredItems(r: Reader, reply: (type: number, write: (w: Writer) => void) => void, fault: (status: number) => void): void {
    const sub = this.subscriptions.get(r.u32());
    if (!sub) return fault(Status.BadSubscriptionIdInvalid);
    r.i32();
    const requests = r.array(() => {
      const { node, attribute } = r.readValueId();
      r.i32();
      const clientHandle = r.u32();
      const sampling = r.f64();
      r.extensionObject();
      r.u32();
      r.u8();
      return { node, attribute, clientHandle, sampling };
    });
    reply(Enc.CreateMonitoredItemsResponse, (w) => {
      w.array(requests, (q) => {
        const key = String(q.node.id);
        const v = q.node.ns === 1 ? this.variables.get(key) : undefined;
        if (!v || q.attribute !== Attr.Value) {
          w.u32(v ? Status.BadAttributeIdInvalid : Status.BadNodeIdUnknown).u32(0).f64(0).u32(0).nodeId({ ns: 0, id: 0 }).u8(0);
          return;
        }
        const item: MonitoredItem = { id: this.nextId++, clientHandle: q.clientHandle, key };
        sub.items.push(item);
        // The first publish carries every item's current value, as the specification asks.
        sub.changes.set(item.clientHandle, { type: v.type, value: v.value });
        w.u32(Status.Good).u32(item.id).f64(Math.max(10, q.sampling)).u32(1).nodeId({ ns: 0, id: 0 }).u8(0);
      }).i32(0);
    });
  }

  private publish(conn: Connection, r: Reader, requestId: number, requestHandle: number, fault: (status: number) => void): void {
    const acks = r.array(() => [r.u32(), r.u32()]).length;
    if (this.subscriptions.size === 0) return fault(Status.BadNoSubscription);
    this.publishQueue.push({ conn, requestId, requestHandle, acks });
  }

  private changed(key: string, v: Variable): void {
    for (const sub of this.subscriptions.values()) {
      for (const item of sub.items) if (item.key === key) sub.changes.set(item.clientHandle, { type: v.type, value: v.value });
    }
  }

  /** One publishing cycle: send changes if there are any, else a keep-alive once the count runs out. */
  private tick(sub: Subscription): void {
    if (sub.changes.size === 0 && ++sub.idleTicks < sub.keepAliveCount) return;
    const pending = this.takePublish();
    if (!pending) return;
    sub.idleTicks = 0;
    const changes = [...sub.changes.entries()];
    sub.changes.clear();
    this.respond(pending.conn, pending.requestId, pending.requestHandle, Enc.PublishResponse, (w) => {
      w.u32(sub.id);
      if (changes.length === 0) {
        // Keep-alive: no notification, the sequence number the next one will have.
        w.array([], () => undefined).u8(0).u32(sub.sequence).dateTime(new Date()).array([], () => undefined);
      } else {
        const seq = sub.sequence++;
        const notification = new Writer();
        notification.array(changes, ([handle, value]) => notification.u32(handle).dataValue(value)).i32(0);
        w.array([seq], (n) => w.u32(n))
          .u8(0)
          .u32(seq)
          .dateTime(new Date())
          .array([0], () => w.nodeId({ ns: 0, id: Enc.DataChangeNotification }).u8(0x01).bytes(notification.done()));
      }
      // One result per acknowledgement the request carried.
      w.array(Array.from({ length: pending.acks }, () => Status.Good), (st) => w.u32(st)).i32(0);
    });
  }

  private takePublish(): PendingPublish | undefined {
    while (this.publishQueue.length > 0) {
      const p = this.publishQueue.shift();
      if (p && !p.conn.socket.destroyed) return p;
    }
    return undefined;
  }
}

function responseHeader(requestHandle: number, status: number): Buffer {
  return new Writer().dateTime(new Date()).u32(requestHandle).u32(status).u8(0).i32(0).nodeId({ ns: 0, id: 0 }).u8(0).done();
}

