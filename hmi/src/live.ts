/**
 * The live link to the gateway (Server-Sent Events on /api/events). The
 * gateway sends a status snapshot every 2 s, so silence means the link is
 * gone: the page says so within seconds and reconnects on its own. Every
 * (re)connect starts with fresh snapshots, so nothing has to be replayed.
 */
/** `idle`: not connected on purpose (the gateway shares nothing without a login). */
export type ConnState = 'idle' | 'connecting' | 'online' | 'offline';

type Handler = (data: unknown) => void;

const SILENCE_MS = 6500;
/** A reconnect that succeeds this quickly does not flash the banner. */
const GRACE_MS = 1500;
const EVENTS = ['hello', 'status', 'part', 'review.snapshot', 'review.added', 'review.settled', 'review.claims', 'auth'] as const;
export type LiveEvent = (typeof EVENTS)[number] | 'state' | 'restarted';

export class Live {
  state: ConnState = 'connecting';
  /** When the gateway was last heard from (ms). */
  lastContact = 0;
  private es: EventSource | null = null;
  private bootId: string | null = null;
  private readonly handlers = new Map<LiveEvent, Set<Handler>>();
  private retryTimer: number | undefined;
  private graceTimer: number | undefined;
  private failures = 0;

  constructor(private station: string | null = null) {
    window.setInterval(() => {
      if (this.state === 'online' && Date.now() - this.lastContact > SILENCE_MS) this.lost();
    }, 1000);
  }

  on(event: LiveEvent, fn: Handler): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /** (Re)open the stream, e.g. after login so the review feed starts. */
  connect(station: string | null = this.station): void {
    this.station = station;
    this.es?.close();
    window.clearTimeout(this.retryTimer);
    if (this.state === 'idle') this.setState('connecting');
    const url = `/api/events${station ? `?station=${encodeURIComponent(station)}` : ''}`;
    const es = new EventSource(url, { withCredentials: true });
    this.es = es;
    for (const name of EVENTS) {
      es.addEventListener(name, (ev) => {
        if (this.es !== es) return;
        this.heard();
        let data: unknown = null;
        try {
          data = JSON.parse((ev as MessageEvent<string>).data);
        } catch {
          return;
        }
        if (name === 'hello') {
          const boot = (data as { bootId: string }).bootId;
          if (this.bootId !== null && boot !== this.bootId) this.emit('restarted', data);
          this.bootId = boot;
        }
        this.emit(name, data);
      });
    }
    es.onerror = () => {
      if (this.es !== es) return;
      es.close();
      this.lost();
    };
  }

  /** Stop listening (logged out where the status is not public). */
  disconnect(): void {
    this.es?.close();
    this.es = null;
    window.clearTimeout(this.retryTimer);
    window.clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.failures = 0;
    this.setState('idle');
  }

  /** A call to the gateway failed for lack of an answer: believe it at once. */
  noteUnreachable(): void {
    if (this.state === 'online') this.lost();
  }

  private heard(): void {
    this.lastContact = Date.now();
    this.failures = 0;
    window.clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    this.setState('online');
  }

  private lost(): void {
    this.es?.close();
    this.es = null;
    if (this.state === 'online' && this.graceTimer === undefined) {
      this.graceTimer = window.setTimeout(() => {
        this.graceTimer = undefined;
        if (this.state !== 'online' || Date.now() - this.lastContact > GRACE_MS) this.setState('offline');
      }, GRACE_MS);
    } else if (this.state === 'connecting' && this.failures > 0) {
      this.setState('offline');
    }
    this.failures++;
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.connect(), Math.min(3000, 500 * this.failures));
  }

  private setState(s: ConnState): void {
    if (s === this.state) return;
    this.state = s;
    this.emit('state', s);
  }

  private emit(event: LiveEvent, data: unknown): void {
    this.handlers.get(event)?.forEach((fn) => fn(data));
  }
}
