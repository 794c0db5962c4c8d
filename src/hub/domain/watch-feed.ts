/**
 * The change feed behind the Watch streams and the REST event stream: each watcher gets a
 * snapshot, then every later change in its namespace that its filter asks for. A watcher that
 * falls too far behind is failed (bounded queue) rather than buffered without end.
 */
import { createAsyncQueue, QueueOverflowError, type AsyncQueue } from '../../shared/async-queue.js';
import type { HubEvent, WatchFilter } from './types.js';

export interface WatchFeed {
  /** Delivers a change to the namespace's watchers whose filter matches. */
  publish(namespace: string, event: HubEvent): void;
  /**
   * `snapshot()` (which may reject, e.g. for an unknown machine: the iteration then fails), then
   * live changes, until the signal aborts or the feed closes. Once closed, a new watch ends at once.
   */
  watch(namespace: string, filter: WatchFilter, snapshot: () => Promise<HubEvent[]>, signal?: AbortSignal): AsyncIterable<HubEvent>;
  /** Open watchers. */
  readonly size: number;
  /** Namespaces with at least one open watcher (what a full resync reads again). */
  namespaces(): Set<string>;
  /** Ends every watcher (after what it has buffered). */
  close(): void;
}

interface Watcher {
  namespace: string;
  filter: WatchFilter;
  queue: AsyncQueue<HubEvent>;
  /** Changes published while the snapshot is read; delivered after it. */
  held?: HubEvent[];
  /** The feed closed while the snapshot was read: end after delivering it. */
  endAfterSnapshot?: boolean;
}

function wants(filter: WatchFilter, event: HubEvent): boolean {
  if (event.type === 'machine') return !!filter.machines;
  if (!filter.sessions) return false;
  return !filter.machineId || filter.machineId === event.session.machineId;
}

export function createWatchFeed(opts: { limit?: number } = {}): WatchFeed {
  const limit = opts.limit ?? 10_000;
  const watchers = new Set<Watcher>();
  let closed = false;

  return {
    publish(namespace, event) {
      for (const w of watchers) {
        if (w.namespace !== namespace || !wants(w.filter, event)) continue;
        if (!w.held) w.queue.push(event);
        else if (w.held.length < limit) w.held.push(event);
        else w.queue.fail(new QueueOverflowError(limit));
      }
    },

    watch(namespace, filter, snapshot, signal) {
      const queue = createAsyncQueue<HubEvent>({ limit, signal });
      if (closed) {
        queue.end();
        return queue;
      }
      // Subscribed before the snapshot is read, changes meanwhile held and delivered after it:
      // none falls between the two. One may arrive twice (in the snapshot and after it); events
      // carry whole records, so the later one is simply the newer state.
      const w: Watcher = { namespace, filter, queue, held: [] };
      watchers.add(w);
      const cleanup = () => watchers.delete(w);
      signal?.addEventListener('abort', cleanup, { once: true });
      // Read now, as the watch starts (not when iterated); once read, the snapshot and what was
      // held go into the queue, and later changes straight after them.
      const ready = snapshot().then(
        (events) => {
          for (const e of events) queue.push(e);
          for (const e of w.held ?? []) queue.push(e);
          w.held = undefined;
          if (w.endAfterSnapshot) queue.end();
        },
        (err: unknown) => {
          cleanup();
          throw err;
        },
      );
      ready.catch(() => undefined);
      return {
        async *[Symbol.asyncIterator]() {
          try {
            await ready;
            yield* queue;
          } finally {
            cleanup();
          }
        },
      };
    },

    get size() {
      return watchers.size;
    },

    namespaces() {
      return new Set([...watchers].map((w) => w.namespace));
    },

    close() {
      if (closed) return;
      closed = true;
      for (const w of watchers) {
        if (w.held) w.endAfterSnapshot = true;
        else w.queue.end();
      }
      watchers.clear();
    },
  };
}
