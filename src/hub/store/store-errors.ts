/**
 * The one place where database errors become domain errors, for both adapters: what a caller
 * may retry (another process holds SQLite's lock; PostgreSQL is unreachable, restarting, out of
 * connections, or aborted a transaction as a serialization failure or deadlock) is the domain's
 * UnavailableError, so a call answers UNAVAILABLE (HTTP 503) and background writes retry.
 * Anything else is passed on as it is. Codes only (no driver import), so neither adapter loads
 * the other's driver.
 */
import { UnavailableError } from '../../shared/errors.js';

/** PostgreSQL SQLSTATEs worth a retry: connection exceptions (08), serialization failure, deadlock, shutdown, too many connections. */
const PG_RETRYABLE = /^(08...|40001|40P01|57P01|57P02|57P03|53300)$/;
/** Socket errors of a connection to PostgreSQL. */
const NET_RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/** Maps a store error; see the module comment. */
export function storeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
    return new UnavailableError('the hub database is busy (another process holds its lock); retry shortly', { sqliteCode: code }, { cause: err });
  }
  if (typeof code === 'string' && PG_RETRYABLE.test(code)) {
    return new UnavailableError(`the hub database cannot serve this now (PostgreSQL ${code}); retry shortly`, { sqlState: code }, { cause: err });
  }
  // node-postgres reports a lost connection, and a pool with no connection free in time, without a code.
  if ((typeof code === 'string' && NET_RETRYABLE.has(code)) || /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(err.message)) {
    return new UnavailableError('the hub database is unreachable; retry shortly', undefined, { cause: err });
  }
  return err;
}
