/**
 * A small push/pull queue that is an AsyncIterable: producers `push()` and `end()`/`fail()`,
 * one consumer iterates. Used for outbound gRPC streams (the hub's Connect and Watch
 * streams, the runner's hub link) so that writes from anywhere are serialised into the one
 * generator the transport reads from. Bounded: a consumer that falls `limit` items behind
 * makes `push()` fail the queue instead of buffering without end.
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  /** False when the queue is already closed (the item is dropped). */
  push(item: T): boolean;
  /** Ends iteration after the buffered items. */
  end(): void;
  /** Ends iteration with an error (after nothing: buffered items are dropped). */
  fail(err: unknown): void;
  readonly closed: boolean;
  readonly size: number;
}

export class QueueOverflowError extends Error {
  constructor(limit: number) {
    super(`consumer fell more than ${limit} messages behind`);
    this.name = 'QueueOverflowError';
  }
}

export function createAsyncQueue<T>(opts: { limit?: number; signal?: AbortSignal } = {}): AsyncQueue<T> {
  const limit = opts.limit ?? 10_000;
  const items: T[] = [];
  let head = 0;
  let closed = false;
  let error: unknown;
  let waiter: (() => void) | undefined;

  const wake = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };

  const q: AsyncQueue<T> = {
    push(item) {
      if (closed) return false;
      if (items.length - head >= limit) {
        q.fail(new QueueOverflowError(limit));
        return false;
      }
      items.push(item);
      wake();
      return true;
    },
    end() {
      if (closed) return;
      closed = true;
      wake();
    },
    fail(err) {
      if (closed && error !== undefined) return;
      closed = true;
      error = err;
      items.length = 0;
      head = 0;
      wake();
    },
    get closed() {
      return closed;
    },
    get size() {
      return items.length - head;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (head < items.length) {
          const item = items[head]!;
          items[head] = undefined as T;
          head++;
          if (head > 1024 && head * 2 > items.length) {
            items.splice(0, head);
            head = 0;
          }
          yield item;
          continue;
        }
        if (error !== undefined) throw error;
        if (closed) return;
        await new Promise<void>((resolve) => (waiter = resolve));
      }
    },
  };
  if (opts.signal?.aborted) q.end();
  else opts.signal?.addEventListener('abort', () => q.end(), { once: true });
  return q;
}
