/** JSON calls to the gateway with its error codes, and a bounded wait so a dead link is noticed. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** No answer at all (network down, gateway restarting, timeout). */
  get offline(): boolean {
    return this.status === 0;
  }
}

const TIMEOUT_MS = 8000;

export async function api<T>(method: string, path: string, body?: unknown, opts: { timeoutMs?: number } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? TIMEOUT_MS),
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, 'OFFLINE', (err as Error).message);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text().catch(() => '');
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page: keep the status.
  }
  if (!res.ok) {
    const e = (json ?? {}) as { code?: string; message?: string; details?: Record<string, unknown> };
    // 502/503/504 from a proxy or a gateway shutting down count as "no connection".
    const status = res.status >= 502 && res.status <= 504 && !e.code ? 0 : res.status;
    throw new ApiError(status, e.code ?? `HTTP_${res.status}`, e.message ?? res.statusText, e.details ?? {});
  }
  return json as T;
}

/** A random id per tap (decision ids): crypto.randomUUID needs a secure context, which plain-HTTP plant networks are not. */
export function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
