/**
 * Async ports over better-sqlite3's synchronous ones, on the one connection a SQLite hub has.
 * Calls answer with promises already resolved. A transaction's work is async (the domain
 * awaits between its steps), so while one is open every other call waits its turn: on one
 * connection a call made meanwhile would otherwise join, and roll back with, someone else's
 * transaction. Store errors are mapped (../store-errors.ts) once, here.
 */
import type Database from 'better-sqlite3';
import type { TransactionStores, UnitOfWork } from '../../domain/ports.js';
import { storeError } from '../store-errors.js';

/** Ports as better-sqlite3 answers them: the same methods, returning values directly. */
export type Synchronous<P> = {
  [K in keyof P]: P[K] extends (...a: infer A) => Promise<infer R> ? (...a: A) => R : never;
};

/**
 * The async ports over the synchronous ones. `gate` wraps each call (the transaction queue);
 * the ports handed to a transaction's work call straight through.
 */
function asyncPorts<P>(sync: Synchronous<P>, gate: <T>(fn: () => T) => Promise<T>): P {
  const ports = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(sync)) {
    ports[name] = (...args: unknown[]) =>
      gate(() => {
        try {
          return (fn as (...a: unknown[]) => unknown)(...args);
        } catch (err) {
          throw storeError(err);
        }
      });
  }
  return ports as P;
}

/** One transaction at a time; calls from outside wait while one is open. */
function createTurns() {
  let open = false;
  const waiting: Array<() => void> = [];
  return {
    get open() {
      return open;
    },
    async acquire(): Promise<void> {
      while (open) await new Promise<void>((r) => waiting.push(r));
      open = true;
    },
    release(): void {
      open = false;
      waiting.shift()?.();
    },
  };
}

/**
 * The async ports of `sync` (queued while a transaction is open) and the unit of work over
 * `db`, whose work gets the same ports bound to its transaction.
 */
export function gateTransactions<P extends TransactionStores>(db: Database.Database, sync: Synchronous<P>): { ports: P } & UnitOfWork {
  const turns = createTurns();
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const direct = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  };
  const txPorts = asyncPorts(sync, direct);
  const queued = async <T>(fn: () => T): Promise<T> => {
    await turns.acquire();
    try {
      return fn();
    } finally {
      turns.release();
    }
  };
  const ports = asyncPorts(sync, (fn) => (turns.open ? queued(fn) : direct(fn)));

  async function transaction<T>(work: (tx: TransactionStores) => Promise<T>): Promise<T> {
    await turns.acquire();
    try {
      // IMMEDIATE takes the write lock up front (waiting up to the busy timeout) rather than
      // failing at once with SQLITE_BUSY_SNAPSHOT when a read turns into a write after
      // another process wrote.
      try {
        begin.run();
      } catch (err) {
        throw storeError(err);
      }
      try {
        const value = await work(txPorts);
        commit.run();
        return value;
      } catch (err) {
        if (db.inTransaction) rollback.run();
        throw storeError(err);
      }
    } finally {
      turns.release();
    }
  }
  return { ports, transaction };
}
