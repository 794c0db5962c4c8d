/**
 * Admission control for runner connects. Every connect writes to the database (the machine
 * marked online, its ownership claimed, its sessions reconciled): after a hub restart or a
 * replica's death thousands of runners connect within seconds. Left alone, they all queue on
 * the database pool at once, each connect's several statements interleave with every other's,
 * all of them slow down together and the pool's own timeout fails them together; they retry
 * together and the herd never settles. So, as servers under a herd do: a bounded number of
 * connects run their database phase at once (first come, first served), a bounded queue waits
 * for a turn, and what does not fit (or waited too long) is refused at once with UNAVAILABLE
 * and a retry hint (`details.retryAfterMs`, sent as gRPC's grpc-retry-pushback-ms) spread over
 * the time the queue needs to drain, so the refused come back when there is room, not together.
 * The rest of the pool stays free for everything else (heartbeats, lists, relayed calls).
 */
import { UnavailableError } from '../../shared/errors.js';

export interface ConnectGateOptions {
  /** Connects in their database phase at once. */
  concurrency: number;
  /** Connects waiting for a turn; one more is refused. */
  queueMax: number;
  /** A connect that waited this long is refused (the database is stuck, not just busy). */
  maxWaitMs: number;
  /** Random in [0, 1) (tests); default Math.random. */
  random?: () => number;
  /** Clock in ms (tests); default performance.now. */
  now?: () => number;
}

export interface ConnectGateStats {
  active: number;
  waiting: number;
  /** Connects admitted since start. */
  admitted: number;
  /** Connects refused (queue full, waited too long) since start. */
  refused: number;
}

export interface ConnectGate {
  /**
   * Runs `work` when a turn is free. Rejects with UnavailableError (details.retryAfterMs) when
   * the queue is full or the turn did not come within maxWaitMs, and with `signal`'s reason
   * when the caller went away while waiting; `work` then never runs.
   */
  run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  stats(): ConnectGateStats;
}

/** Bounds of a retry hint (ms): not sooner than a second, not later than the runners' own backoff cap. */
export const RETRY_HINT_MIN_MS = 1_000;
export const RETRY_HINT_MAX_MS = 30_000;

interface Waiter {
  start(): void;
}

export function createConnectGate(opts: ConnectGateOptions): ConnectGate {
  const random = opts.random ?? Math.random;
  const now = opts.now ?? (() => performance.now());
  const queue: Waiter[] = [];
  let active = 0;
  let admitted = 0;
  let refused = 0;
  /** Average time of one connect's database phase (ms), moving: how fast the queue drains. */
  let serviceMs = 10;

  /**
   * When to come back: the time the queue ahead needs to drain, spread at random over once to
   * twice that, so the refused do not all return at the same instant.
   */
  function retryAfterMs(): number {
    const drainMs = ((queue.length + active) * serviceMs) / opts.concurrency;
    const base = Math.min(RETRY_HINT_MAX_MS / 2, Math.max(RETRY_HINT_MIN_MS, drainMs));
    return Math.round(base * (1 + random()));
  }

  function refuse(why: string): UnavailableError {
    refused++;
    const ms = retryAfterMs();
    return new UnavailableError(`hub is busy accepting runners (${why}); retry in ${ms} ms`, { retryAfterMs: ms });
  }

  function next(): void {
    while (active < opts.concurrency && queue.length > 0) {
      queue.shift()!.start();
    }
  }

  return {
    run(work, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        /** Leaves the queue without a turn. */
        const leave = (err: unknown) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const i = queue.indexOf(w);
          if (i >= 0) queue.splice(i, 1);
          reject(err);
        };
        const onAbort = () => leave(signal!.reason);
        const w: Waiter = {
          start() {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            active++;
            admitted++;
            const t0 = now();
            work()
              .then(resolve, reject)
              .finally(() => {
                serviceMs = serviceMs * 0.9 + (now() - t0) * 0.1;
                active--;
                next();
              });
          },
        };
        if (active < opts.concurrency && queue.length === 0) return w.start();
        if (queue.length >= opts.queueMax) return reject(refuse(`${queue.length} connects waiting`));
        queue.push(w);
        signal?.addEventListener('abort', onAbort, { once: true });
        timer = setTimeout(() => leave(refuse(`no turn within ${opts.maxWaitMs} ms`)), opts.maxWaitMs);
        timer.unref();
      });
    },
    stats: () => ({ active, waiting: queue.length, admitted, refused }),
  };
}
