/**
 * The SQLite schema as versioned migrations, recorded in `schema_migrations`; each runs once,
 * in a transaction. Add a migration, never edit one that has shipped.
 */
import type Database from 'better-sqlite3';

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
  {
    version: 3,
    name: 'token scopes',
    // Every token made before scopes existed keeps what it could do: full.
    sql: `
      ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'read-only'));
    `,
  },
  {
    version: 4,
    name: 'approval decisions',
    // One row per decision on an agent's approval request; `request` is the request as it was
    // when answered (JSON). Kept with the session's history; never updated.
    sql: `
      CREATE TABLE approval_decisions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        machine_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        request TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny', 'allow_session')),
        message TEXT NOT NULL,
        token_id TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('page', 'cli', 'api')),
        decided_at INTEGER NOT NULL
      );
      CREATE INDEX approval_decisions_session ON approval_decisions(machine_id, session_id, seq);
    `,
  },
  {
    version: 5,
    name: 'notifications',
    // The notifier's settings (src/hub/domain/notify): muted sessions, per-namespace preferences,
    // Web Push keys and subscriptions (the private key is as secret as the tokens' hashes: 0600 file).
    // Mutes outlive their session's row on purpose: a session id is only reused by a resume.
    sql: `
      CREATE TABLE notify_mutes (
        namespace TEXT NOT NULL,
        machine_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        muted_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, machine_id, session_id)
      );
      CREATE TABLE notify_settings (
        namespace TEXT PRIMARY KEY,
        notify_on_exit INTEGER NOT NULL DEFAULT 0 CHECK (notify_on_exit IN (0, 1))
      );
      -- The hub's VAPID key pair for Web Push, made on first start; one row.
      CREATE TABLE push_vapid (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        public_key TEXT NOT NULL,
        private_key TEXT NOT NULL
      );
      CREATE TABLE push_subscriptions (
        endpoint TEXT PRIMARY KEY,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        namespace TEXT NOT NULL,
        token_id TEXT NOT NULL,
        can_decide INTEGER NOT NULL CHECK (can_decide IN (0, 1)),
        created_at INTEGER NOT NULL
      );
      CREATE INDEX push_subscriptions_namespace ON push_subscriptions(namespace, created_at);
    `,
  },
  {
    version: 6,
    name: 'one live owner token',
    // The owner token made on first start exists once, even when two hubs start together.
    sql: `
      CREATE UNIQUE INDEX tokens_one_live_owner ON tokens(owner) WHERE owner = 1 AND revoked_at IS NULL;
    `,
  },
  {
    version: 7,
    name: 'hub replicas and machine ownership',
    // Kept in step with PostgreSQL's migration 7; a hub on SQLite runs alone and never uses
    // these. Replicas register with a heartbeat (src/hub/cluster/replica-registry.ts; times from the
    // database's clock, so hosts' clocks never disagree). A machine's owner is the replica
    // holding its runner's stream; owner_epoch rises on every connect (one UPDATE ... RETURNING)
    // and fences a stale owner: writes for the machine check it under the row's lock.
    sql: `
      CREATE TABLE hub_replicas (
        id TEXT PRIMARY KEY,
        peer_addr TEXT NOT NULL,
        version TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
      );
      ALTER TABLE machines ADD COLUMN owner_replica TEXT;
      ALTER TABLE machines ADD COLUMN owner_epoch INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX machines_owner ON machines(owner_replica) WHERE online = 1;
    `,
  },
  {
    version: 8,
    name: 'decision origins telegram and push',
    // SQLite cannot change a CHECK: the table is rebuilt with the wider one, rows and seq kept.
    sql: `
      CREATE TABLE approval_decisions_v8 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        machine_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        request TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny', 'allow_session')),
        message TEXT NOT NULL,
        token_id TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('page', 'cli', 'api', 'telegram', 'push')),
        decided_at INTEGER NOT NULL
      );
      INSERT INTO approval_decisions_v8 SELECT * FROM approval_decisions;
      DROP TABLE approval_decisions;
      ALTER TABLE approval_decisions_v8 RENAME TO approval_decisions;
      CREATE INDEX approval_decisions_session ON approval_decisions(machine_id, session_id, seq);
    `,
  },
  {
    version: 9,
    name: 'one-time codes',
    // Sign-in links and attach tickets by the hash of their code, until they expire; a code is
    // taken (deleted) when redeemed. 7 is the replica registry's, 8 the decision origins.
    sql: `
      CREATE TABLE one_time_codes (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('sign-in-link', 'attach-ticket')),
        payload TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX one_time_codes_expiry ON one_time_codes(expires_at);
    `,
  },  {
    version: 11,
    name: 'shared session activity',
    // The same column as PostgreSQL's migration 11 (one set of store ports); a single SQLite hub
    // keeps activity in memory and never writes it (hub-core.ts shares it only with replicas).
    sql: `ALTER TABLE sessions ADD COLUMN activity TEXT;`,
  },
];

/** Every migration's version, in order (numbers are agreed across branches, so one may be missing for a while). */
export const MIGRATION_VERSIONS: readonly number[] = MIGRATIONS.map((m) => m.version);

/** Applies pending migrations; returns the schema version. */
export function migrate(db: Database.Database): number {
  return migrateTo(db, MIGRATIONS[MIGRATIONS.length - 1]!.version);
}

/** Applies pending migrations up to `target` (tests build an older database with it); returns `target`. */
export function migrateTo(db: Database.Database, target: number): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version) || m.version > target) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
  return target;
}

