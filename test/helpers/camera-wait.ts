import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` until it holds; fails after `timeoutMs` naming what was awaited, so no test hangs. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Reads an async iterable one item at a time with a bounded wait. An item
 * that arrives after a timed-out wait is not lost: the next call gets it.
 */
export class BoundedReader<T> {
  private readonly iterator: AsyncIterator<T>;
  private pending: Promise<IteratorResult<T>> | null = null;

  constructor(iterable: AsyncIterable<T>) {
    this.iterator = iterable[Symbol.asyncIterator]();
  }

  /** The next item, or `null` when none came within `timeoutMs`; throws when the iterable ended. */
  async next(timeoutMs: number): Promise<T | null> {
    this.pending ??= this.iterator.next();
    const timer = sleep(timeoutMs, 'timeout' as const, { ref: false });
    const result = await Promise.race([this.pending, timer]);
    if (result === 'timeout') return null;
    this.pending = null;
    if (result.done === true) throw new Error('iterable ended');
    return result.value;
  }

  /** Like next(), but a timeout is a failure. */
  async expectNext(timeoutMs: number): Promise<T> {
    const item = await this.next(timeoutMs);
    if (item === null) throw new Error(`no item within ${timeoutMs} ms`);
    return item;
  }
}
