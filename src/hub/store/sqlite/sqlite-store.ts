/**
 * The hub's store ports (src/hub/domain/ports.ts) over SQLite (better-sqlite3, WAL), one file
 * of private mode: the core tables (core-tables.ts) and the notifier's (notify-tables.ts), made
 * async with transactions queued on the one connection (sync-gate.ts). Schema: migrations.ts.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDir } from '../../../shared/atomic-file.js';
import { errnoCode } from '../../../shared/errors.js';
import type { NotifyStore } from '../../domain/notify/notify-store.js';
import type { ApprovalDecisionStore, HubStore, OneTimeCodeStore, TransactionStores, WebSessionTable } from '../../domain/ports.js';
import { sqliteCoreTables } from './core-tables.js';
import { migrate } from './migrations.js';
import { sqliteNotifyTables } from './notify-tables.js';
import { oneTimeCodesSync } from './one-time-codes.js';
import { gateTransactions } from './sync-gate.js';

/** Every port but the unit of work and the store's own life. */
type AllPorts = TransactionStores & WebSessionTable & ApprovalDecisionStore & NotifyStore & OneTimeCodeStore;

/**
 * The database and its -wal, -shm and -journal files hold tokens' hashes and sign-ins: 0600,
 * whatever the umask or the directory's mode. SQLite creates the side files with the mode of
 * the database file, so creating that one 0600 first is enough; files left world-readable by
 * an older hub are tightened.
 */
function makeDbFilesPrivate(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      chmodSync(file, 0o600);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
}

/**
 * How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
 * better-sqlite3 is synchronous, so the wait blocks the hub's event loop: long enough to ride
 * out a checkpoint or a short write by another process (`sqlite3 hub.db`, a backup), short
 * enough that a long lock turns into quick UNAVAILABLE answers instead of a frozen hub.
 */
export const BUSY_TIMEOUT_MS = 500;

/** Opens (creating and migrating as needed) the database at `path`, or `:memory:`. */
export function openHubStore(path: string): HubStore {
  // ':memory:' and '' (a temporary database) have no files of their own.
  if (path !== ':memory:' && path !== '') {
    ensurePrivateDir(dirname(path));
    makeDbFilesPrivate(path);
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  migrate(db);

  const { ports, transaction } = gateTransactions<AllPorts>(db, { ...sqliteCoreTables(db), ...sqliteNotifyTables(db), ...oneTimeCodesSync(db) });
  return {
    ...ports,
    path,
    transaction,
    async close() {
      db.close();
    },
  };
}
