/**
 * SingletonLock (src/hub/cluster/singleton.ts) over a PostgreSQL session-level advisory lock,
 * held on a connection of its own: `pg_try_advisory_lock` never waits; the lock goes when the
 * connection does (its holder exited, was killed, or lost the network), so another replica
 * takes over. Advisory locks are per database: two hub clusters on one server never meet.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { SingletonLock } from '../../cluster/singleton.js';

/** The lock key of `name` (a signed 64-bit number from its hash, as pg_advisory_lock takes). */
export function lockKey(name: string): string {
  return createHash('sha256').update(`hapi singleton ${name}`).digest().readBigInt64BE(0).toString();
}

export function createPgSingletonLock(url: string, name: string): SingletonLock {
  const key = lockKey(name);
  return {
    async tryAcquire() {
      const c = new pg.Client({ connectionString: url, application_name: `hapi lock ${name} ${process.pid}`, keepAlive: true });
      let onLost!: () => void;
      const lost = new Promise<void>((r) => (onLost = r));
      c.on('error', () => onLost());
      c.on('end', () => onLost());
      try {
        await c.connect();
        const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
        if (!r.rows[0]?.ok) {
          await c.end();
          return undefined;
        }
      } catch (err) {
        await c.end().catch(() => undefined);
        throw err;
      }
      return { lost, release: () => c.end() };
    },
  };
}
