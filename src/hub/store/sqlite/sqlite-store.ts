/**
 * The hub's durable state in SQLite (better-sqlite3, WAL): namespaces, tokens (sha256 hashes
 * only), machines with versioned metadata and runner state, and sessions. Schema changes are
 * versioned migrations recorded in `schema_migrations`; each runs once, in a transaction.
 * Synchronous by design: better-sqlite3 calls are microseconds and keep the hub's state
 * transitions atomic without locks.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDir } from '../../../shared/atomic-file.js';
import { errnoCode } from '../../../shared/errors.js';
import type { MachineMetadataInfo, RunnerStateInfo } from '../../../contract/types.js';
import type { HubSession, MachineRecord, TokenRecord, WebSessionRecord } from '../../domain/types.js';

type Db = Database.Database;

const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE namespaces (
        name TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        hash TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL DEFAULT '',
        owner INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE TABLE machines (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        metadata TEXT NOT NULL,
        metadata_version INTEGER NOT NULL,
        runner_state TEXT NOT NULL,
        runner_state_version INTEGER NOT NULL,
        online INTEGER NOT NULL DEFAULT 0,
        last_alive INTEGER,
        online_since INTEGER,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX machines_namespace ON machines(namespace);
      CREATE TABLE sessions (
        machine_id TEXT NOT NULL REFERENCES machines(id),
        id TEXT NOT NULL,
        namespace TEXT NOT NULL,
        pid INTEGER NOT NULL DEFAULT 0,
        directory TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        started_by TEXT NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        exit_code INTEGER,
        exit_signal TEXT,
        worktree TEXT,
        request_id TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (machine_id, id)
      );
      CREATE INDEX sessions_namespace ON sessions(namespace, state);
    `,
  },
  {
    version: 2,
    name: 'web sign-in sessions',
    // key: SHA-256 of the cookie value; subject: a token id, or a Telegram user id.
    sql: `
      CREATE TABLE web_sessions (
        key TEXT PRIMARY KEY,
        csrf_token TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('token', 'telegram')),
        subject TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
      );
    `,
  },
];


export interface HubStore {
  readonly path: string;
  ensureNamespace(name: string): void;
  insertToken(rec: TokenRecord, hash: string): void;
  findTokenByHash(hash: string): TokenRecord | undefined;
  listTokens(): TokenRecord[];
  getToken(id: string): TokenRecord | undefined;
  revokeToken(id: string, at: Date): boolean;
  countOwnerTokens(): number;
  getMachine(id: string): MachineRecord | undefined;
  listMachines(namespace: string): MachineRecord[];
  insertMachine(m: MachineRecord): void;
  saveMachine(m: MachineRecord): void;
  saveLastAlive(entries: { id: string; lastAlive: Date }[]): void;
  /** Marks every machine offline (hub start): nobody is connected yet. */
  markAllOffline(at: Date): number;
  upsertSession(s: HubSession): void;
  getSession(machineId: string, id: string): HubSession | undefined;
  listSessions(namespace: string, opts: { machineId?: string; includeEnded?: boolean }): HubSession[];
  /** Live (starting/running) sessions of a machine. */
  liveSessionsOf(machineId: string): HubSession[];
  listWebSessions(): WebSessionRecord[];
  insertWebSession(s: WebSessionRecord): void;
  touchWebSession(key: string, lastSeenAt: number): void;
  deleteWebSessions(keys: string[]): void;
  transaction<T>(fn: () => T): T;
  close(): void;
}

function ms(d: Date | undefined): number | null {
  return d ? d.getTime() : null;
}
function date(v: unknown): Date | undefined {
  return typeof v === 'number' ? new Date(v) : undefined;
}

interface MachineRow {
  id: string;
  namespace: string;
  metadata: string;
  metadata_version: number;
  runner_state: string;
  runner_state_version: number;
  online: number;
  last_alive: number | null;
  online_since: number | null;
}

interface SessionRow {
  machine_id: string;
  id: string;
  namespace: string;
  pid: number;
  directory: string;
  agent: string;
  state: string;
  started_by: string;
  started_at: number | null;
  ended_at: number | null;
  exit_code: number | null;
  exit_signal: string | null;
  worktree: string | null;
  request_id: string | null;
}

interface TokenRow {
  id: string;
  namespace: string;
  label: string;
  owner: number;
  created_at: number;
  revoked_at: number | null;
}

function runnerStateFromJson(text: string): RunnerStateInfo {
  const raw = JSON.parse(text) as Omit<RunnerStateInfo, 'startedAt'> & { startedAt?: number };
  return { ...raw, startedAt: date(raw.startedAt) };
}
function runnerStateToJson(s: RunnerStateInfo): string {
  return JSON.stringify({ ...s, startedAt: ms(s.startedAt) ?? undefined });
}

function machineFromRow(r: MachineRow): MachineRecord {
  return {
    id: r.id,
    namespace: r.namespace,
    metadata: JSON.parse(r.metadata) as MachineMetadataInfo,
    metadataVersion: r.metadata_version,
    runnerState: runnerStateFromJson(r.runner_state),
    runnerStateVersion: r.runner_state_version,
    online: r.online === 1,
    lastAlive: date(r.last_alive),
    onlineSince: date(r.online_since),
  };
}

function sessionFromRow(r: SessionRow): HubSession {
  return {
    id: r.id,
    machineId: r.machine_id,
    namespace: r.namespace,
    pid: r.pid,
    directory: r.directory,
    agent: r.agent,
    state: r.state as HubSession['state'],
    startedBy: r.started_by as HubSession['startedBy'],
    startedAt: date(r.started_at) ?? new Date(0),
    endedAt: date(r.ended_at),
    exitCode: r.exit_code ?? undefined,
    exitSignal: r.exit_signal ?? undefined,
    worktree: r.worktree ? (JSON.parse(r.worktree) as HubSession['worktree']) : undefined,
    requestId: r.request_id ?? undefined,
  };
}

function tokenFromRow(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    namespace: r.namespace,
    label: r.label,
    owner: r.owner === 1,
    createdAt: new Date(r.created_at),
    revokedAt: date(r.revoked_at),
  };
}

/** Applies pending migrations; returns the schema version. */
export function migrate(db: Db): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
  return MIGRATIONS[MIGRATIONS.length - 1]!.version;
}

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
  db.pragma('busy_timeout = 5000');
  migrate(db);

  const q = {
    ensureNs: db.prepare('INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)'),
    insertToken: db.prepare(
      'INSERT INTO tokens (id, namespace, hash, label, owner, created_at) VALUES (@id, @namespace, @hash, @label, @owner, @created_at)',
    ),
    tokenByHash: db.prepare('SELECT * FROM tokens WHERE hash = ?'),
    tokenById: db.prepare('SELECT * FROM tokens WHERE id = ?'),
    listTokens: db.prepare('SELECT * FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, id'),
    revokeToken: db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    countOwners: db.prepare('SELECT COUNT(*) AS n FROM tokens WHERE owner = 1 AND revoked_at IS NULL'),
    machine: db.prepare('SELECT * FROM machines WHERE id = ?'),
    machines: db.prepare('SELECT * FROM machines WHERE namespace = ? ORDER BY online DESC, id'),
    insertMachine: db.prepare(
      `INSERT INTO machines (id, namespace, metadata, metadata_version, runner_state, runner_state_version, online, last_alive, online_since, created_at)
       VALUES (@id, @namespace, @metadata, @metadata_version, @runner_state, @runner_state_version, @online, @last_alive, @online_since, @created_at)`,
    ),
    saveMachine: db.prepare(
      `UPDATE machines SET metadata = @metadata, metadata_version = @metadata_version, runner_state = @runner_state,
       runner_state_version = @runner_state_version, online = @online, last_alive = @last_alive, online_since = @online_since
       WHERE id = @id`,
    ),
    saveLastAlive: db.prepare('UPDATE machines SET last_alive = ? WHERE id = ?'),
    allOffline: db.prepare('UPDATE machines SET online = 0, online_since = ? WHERE online = 1'),
    upsertSession: db.prepare(
      `INSERT INTO sessions (machine_id, id, namespace, pid, directory, agent, state, started_by, started_at, ended_at, exit_code, exit_signal, worktree, request_id, updated_at)
       VALUES (@machine_id, @id, @namespace, @pid, @directory, @agent, @state, @started_by, @started_at, @ended_at, @exit_code, @exit_signal, @worktree, @request_id, @updated_at)
       ON CONFLICT (machine_id, id) DO UPDATE SET pid = excluded.pid, directory = excluded.directory, agent = excluded.agent,
         state = excluded.state, started_by = excluded.started_by, started_at = excluded.started_at, ended_at = excluded.ended_at,
         exit_code = excluded.exit_code, exit_signal = excluded.exit_signal, worktree = excluded.worktree,
         request_id = excluded.request_id, updated_at = excluded.updated_at`,
    ),
    session: db.prepare('SELECT * FROM sessions WHERE machine_id = ? AND id = ?'),
    sessionsNs: db.prepare("SELECT * FROM sessions WHERE namespace = ? AND (? = 1 OR state != 'ended') ORDER BY started_at DESC, id"),
    sessionsMachine: db.prepare(
      "SELECT * FROM sessions WHERE namespace = ? AND machine_id = ? AND (? = 1 OR state != 'ended') ORDER BY started_at DESC, id",
    ),
    liveOf: db.prepare("SELECT * FROM sessions WHERE machine_id = ? AND state != 'ended'"),
    webSessions: db.prepare('SELECT * FROM web_sessions'),
    insertWebSession: db.prepare(
      `INSERT OR REPLACE INTO web_sessions (key, csrf_token, kind, subject, created_at, last_seen_at)
       VALUES (@key, @csrf_token, @kind, @subject, @created_at, @last_seen_at)`,
    ),
    touchWebSession: db.prepare('UPDATE web_sessions SET last_seen_at = ? WHERE key = ?'),
    deleteWebSession: db.prepare('DELETE FROM web_sessions WHERE key = ?'),
  };

  function machineParams(m: MachineRecord) {
    return {
      id: m.id,
      namespace: m.namespace,
      metadata: JSON.stringify(m.metadata),
      metadata_version: m.metadataVersion,
      runner_state: runnerStateToJson(m.runnerState),
      runner_state_version: m.runnerStateVersion,
      online: m.online ? 1 : 0,
      last_alive: ms(m.lastAlive),
      online_since: ms(m.onlineSince),
    };
  }

  const deleteWebSessions = db.transaction((keys: string[]) => {
    for (const key of keys) q.deleteWebSession.run(key);
  });

  const saveAlive = db.transaction((entries: { id: string; lastAlive: Date }[]) => {
    for (const e of entries) q.saveLastAlive.run(e.lastAlive.getTime(), e.id);
  });

  return {
    path,
    ensureNamespace(name) {
      q.ensureNs.run(name, Date.now());
    },
    insertToken(rec, hash) {
      q.insertToken.run({
        id: rec.id,
        namespace: rec.namespace,
        hash,
        label: rec.label,
        owner: rec.owner ? 1 : 0,
        created_at: rec.createdAt.getTime(),
      });
    },
    findTokenByHash(hash) {
      const row = q.tokenByHash.get(hash) as TokenRow | undefined;
      return row ? tokenFromRow(row) : undefined;
    },
    getToken(id) {
      const row = q.tokenById.get(id) as TokenRow | undefined;
      return row ? tokenFromRow(row) : undefined;
    },
    listTokens() {
      return (q.listTokens.all() as TokenRow[]).map(tokenFromRow);
    },
    revokeToken(id, at) {
      return q.revokeToken.run(at.getTime(), id).changes > 0;
    },
    countOwnerTokens() {
      return (q.countOwners.get() as { n: number }).n;
    },
    getMachine(id) {
      const row = q.machine.get(id) as MachineRow | undefined;
      return row ? machineFromRow(row) : undefined;
    },
    listMachines(namespace) {
      return (q.machines.all(namespace) as MachineRow[]).map(machineFromRow);
    },
    insertMachine(m) {
      q.insertMachine.run({ ...machineParams(m), created_at: Date.now() });
    },
    saveMachine(m) {
      q.saveMachine.run(machineParams(m));
    },
    saveLastAlive(entries) {
      if (entries.length > 0) saveAlive(entries);
    },
    markAllOffline(at) {
      return q.allOffline.run(at.getTime()).changes;
    },
    upsertSession(s) {
      q.upsertSession.run({
        machine_id: s.machineId,
        id: s.id,
        namespace: s.namespace,
        pid: s.pid,
        directory: s.directory,
        agent: s.agent,
        state: s.state,
        started_by: s.startedBy,
        started_at: ms(s.startedAt),
        ended_at: ms(s.endedAt),
        exit_code: s.exitCode ?? null,
        exit_signal: s.exitSignal ?? null,
        worktree: s.worktree ? JSON.stringify(s.worktree) : null,
        request_id: s.requestId ?? null,
        updated_at: Date.now(),
      });
    },
    getSession(machineId, id) {
      const row = q.session.get(machineId, id) as SessionRow | undefined;
      return row ? sessionFromRow(row) : undefined;
    },
    listSessions(namespace, opts) {
      const ended = opts.includeEnded ? 1 : 0;
      const rows = opts.machineId ? q.sessionsMachine.all(namespace, opts.machineId, ended) : q.sessionsNs.all(namespace, ended);
      return (rows as SessionRow[]).map(sessionFromRow);
    },
    liveSessionsOf(machineId) {
      return (q.liveOf.all(machineId) as SessionRow[]).map(sessionFromRow);
    },
    listWebSessions() {
      return (q.webSessions.all() as Record<string, unknown>[]).map((r) => ({
        key: String(r.key),
        csrfToken: String(r.csrf_token),
        kind: r.kind === 'telegram' ? 'telegram' : 'token',
        subject: String(r.subject),
        createdAt: Number(r.created_at),
        lastSeenAt: Number(r.last_seen_at),
      }));
    },
    insertWebSession(w) {
      q.insertWebSession.run({
        key: w.key,
        csrf_token: w.csrfToken,
        kind: w.kind,
        subject: w.subject,
        created_at: w.createdAt,
        last_seen_at: w.lastSeenAt,
      });
    },
    touchWebSession(key, lastSeenAt) {
      q.touchWebSession.run(lastSeenAt, key);
    },
    deleteWebSessions(keys) {
      deleteWebSessions(keys);
    },
    transaction(fn) {
      return db.transaction(fn)();
    },
    close() {
      db.close();
    },
  };
}
