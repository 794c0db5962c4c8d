/**
 * Work that must run on one hub replica at a time (the Telegram update poller: Telegram allows
 * one getUpdates per bot). The replica that holds a lock runs it; the others try again every
 * few seconds and take over when the holder dies or loses its database connection (PostgreSQL
 * releases a session's advisory lock when its connection ends). A single hub on SQLite just
 * runs the work.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/logger.js';

/** A lock at most one replica holds (PostgreSQL: a session-level advisory lock on its own connection). */
export interface SingletonLock {
  /** Takes the lock if free: `lost` resolves when the connection holding it goes. Undefined when another holds it. */
  tryAcquire(): Promise<{ lost: Promise<void>; release(): Promise<void> } | undefined>;
}

export interface SingletonOptions {
  lock: SingletonLock;
  /** Starts the work; its close() stops it. */
  start(): { close(): Promise<void> };
  /** How often a replica without the lock tries again. */
  retryMs?: number;
  /** What runs (logs). */
  what: string;
  log: Logger;
}

export function runAsSingleton(o: SingletonOptions): { close(): Promise<void> } {
  const ac = new AbortController();
  const stopped = new Promise<void>((r) => ac.signal.addEventListener('abort', () => r(), { once: true }));
  const retryMs = o.retryMs ?? 5_000;

  async function loop(): Promise<void> {
    let failures = 0;
    while (!ac.signal.aborted) {
      let held: Awaited<ReturnType<SingletonLock['tryAcquire']>>;
      try {
        held = await o.lock.tryAcquire();
        failures = 0;
      } catch (err) {
        if (failures++ % 12 === 0) o.log.warn({ err, what: o.what }, 'cannot reach the database to take the lock; retrying');
      }
      if (held && !ac.signal.aborted) {
        o.log.info({ what: o.what }, 'this replica runs it now');
        const work = o.start();
        await Promise.race([held.lost, stopped]);
        await work.close();
        await held.release().catch(() => undefined);
        if (!ac.signal.aborted) o.log.warn({ what: o.what }, 'lost the lock (database connection gone): stopped, trying to take it again');
      } else if (held) {
        await held.release().catch(() => undefined);
      }
      await sleep(retryMs, undefined, { signal: ac.signal }).catch(() => undefined);
    }
  }

  const done = loop();
  return {
    async close() {
      ac.abort();
      await done;
    },
  };
}
