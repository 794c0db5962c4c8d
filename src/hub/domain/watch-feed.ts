/**
 * The change feed behind the Watch streams and the REST event stream: each watcher gets a
 * snapshot, then every later change in its namespace that its filter asks for. A watcher that
 * falls too far behind is failed (bounded queue) rather than buffered without end.
 */
import { createAsyncQueue, type AsyncQueue } from '../../shared/async-queue.js';
import type { HubEvent, WatchFilter } from './types.js';

export interface WatchFeed {
  /** Delivers a change to the namespace's watchers whose filter matches. */
  publish(namespace: string, event: HubEvent): void;
  /**
   * `snapshot()` (which may throw, e.g. for an unknown machine), then live changes, until the
   * signal aborts or the feed closes. Once closed, a new watch ends at once.
   */
  watch(namespace: string, filter: WatchFilter, snapshot: () => HubEvent[], signal?: AbortSignal): AsyncIterable<HubEvent>;
  /** Open watchers. */
  readonly size: number;
  /** Ends every watcher (after what it has buffered). */
  close(): void;
}

interface Watcher {
  namespace: string;
  filter: WatchFilter;
  queue: AsyncQueue<HubEvent>;
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
      for (const w of watchers) if (w.namespace === namespace && wants(w.filter, event)) w.queue.push(event);
    },

    watch(namespace, filter, snapshot, signal) {
      const queue = createAsyncQueue<HubEvent>({ limit, signal });
      if (closed) {
        queue.end();
        return queue;
      }
      // Snapshot and subscription happen in one synchronous step (the store is synchronous),
      // so no change can fall between them or be delivered twice.
      for (const e of snapshot()) queue.push(e);
      const w: Watcher = { namespace, filter, queue };
      watchers.add(w);
      const cleanup = () => watchers.delete(w);
      signal?.addEventListener('abort', cleanup, { once: true });
      return {
        async *[Symbol.asyncIterator]() {
          try {
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

    close() {
      if (closed) return;
      closed = true;
      for (const w of watchers) w.queue.end();
      watchers.clear();
    },
  };
}
