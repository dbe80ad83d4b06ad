/**
 * A TCP relay between a client and the broker that can misbehave on cue:
 * hold back everything the broker sends after its CONNACK (so PUBLISHes
 * arrive but PUBACKs never come back), or cut every connection at once
 * without a DISCONNECT (a pulled cable, as far as the broker can tell).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /** From the next connection on: forward the broker's first packet (CONNACK), withhold the rest. */
  holdRepliesAfterConnack(hold: boolean): void;
  /** Destroy every open connection on both sides. */
  cutAll(): void;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let hold = false;
  let accepted = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    accepted++;
    const holding = hold;
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    if (!holding) {
      upstream.pipe(client);
      return;
    }
    let pending = Buffer.alloc(0);
    let connackSent = false;
    upstream.on('data', (chunk: Buffer) => {
      if (connackSent) return; // withheld for good
      pending = Buffer.concat([pending, chunk]);
      const size = firstPacketSize(pending);
      if (size === null) return;
      client.write(pending.subarray(0, size));
      connackSent = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    holdRepliesAfterConnack(h) {
      hold = h;
    },
    cutAll() {
      for (const s of open) s.destroy();
      open.clear();
    },
    get connections() {
      return accepted;
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Bytes of the first MQTT packet in `b` (fixed header + remaining length), or null if incomplete. */
function firstPacketSize(b: Buffer): number | null {
  let multiplier = 1;
  let remaining = 0;
  for (let i = 1; i < Math.min(b.length, 5); i++) {
    const byte = b[i] ?? 0;
    remaining += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) {
      const total = 1 + i + remaining;
      return b.length >= total ? total : null;
    }
  }
  return null;
}
