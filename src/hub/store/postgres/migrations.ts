/**
 * The PostgreSQL schema as versioned migrations, mirroring src/hub/store/sqlite/migrations.ts
 * version for version (same tables and columns: times as epoch milliseconds in BIGINT, flags
 * as 0/1 INTEGER, JSON as TEXT, so both adapters share ../rows.ts). Recorded in
 * `schema_migrations`; each runs once, in a transaction. Add a migration, never edit one that
 * has shipped, and add it to both files.
 *
 * Several hubs may start at once on one database: the whole run holds a session-level advisory
 * lock, so one hub migrates while the others wait, then find nothing left to do.
 */
import type pg from 'pg';

/** pg_advisory_lock key of the migration run ("hapi" + "mig" as ASCII, arbitrary but fixed). */
export const MIGRATION_LOCK_KEY = 0x68617069_6d6967n;

const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE namespaces (
        name TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        hash TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL DEFAULT '',
        owner INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
      );
      CREATE TABLE machines (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        metadata TEXT NOT NULL,
        metadata_version INTEGER NOT NULL,
        runner_state TEXT NOT NULL,
        runner_state_version INTEGER NOT NULL,
        online INTEGER NOT NULL DEFAULT 0,
        last_alive BIGINT,
        online_since BIGINT,
        created_at BIGINT NOT NULL
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
        started_at BIGINT,
        ended_at BIGINT,
        exit_code INTEGER,
        exit_signal TEXT,
        worktree TEXT,
        request_id TEXT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (machine_id, id)
      );
      CREATE INDEX sessions_namespace ON sessions(namespace, state);
    `,
  },
  {
    version: 2,
    name: 'web sign-in sessions',
    sql: `
      CREATE TABLE web_sessions (
        key TEXT PRIMARY KEY,
        csrf_token TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('token', 'telegram')),
        subject TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'token scopes',
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
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
        decided_at BIGINT NOT NULL
      );
      CREATE INDEX approval_decisions_session ON approval_decisions(machine_id, session_id, seq);
    `,
  },
  {
    version: 5,
    name: 'notifications',
    // The notifier's settings (src/hub/domain/notify): muted sessions, per-namespace preferences,
    // Web Push keys and subscriptions (the private key is as secret as the tokens' hashes).
    // Mutes outlive their session's row on purpose: a session id is only reused by a resume.
    sql: `
      CREATE TABLE notify_mutes (
        namespace TEXT NOT NULL,
        machine_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        muted_at BIGINT NOT NULL,
        PRIMARY KEY (namespace, machine_id, session_id)
      );
      CREATE TABLE notify_settings (
        namespace TEXT PRIMARY KEY,
        notify_on_exit INTEGER NOT NULL DEFAULT 0 CHECK (notify_on_exit IN (0, 1))
      );
      -- The hub's VAPID key pair for Web Push, made on first start; one row, whichever hub wins.
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
        created_at BIGINT NOT NULL
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
    // Replicas register with a heartbeat (src/hub/cluster/replica-registry.ts; times from the
    // database's clock, so hosts' clocks never disagree). A machine's owner is the replica
    // holding its runner's stream; owner_epoch rises on every connect (one UPDATE ... RETURNING)
    // and fences a stale owner: writes for the machine check it under the row's lock.
    sql: `
      CREATE TABLE hub_replicas (
        id TEXT PRIMARY KEY,
        peer_addr TEXT NOT NULL,
        version TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL
      );
      ALTER TABLE machines ADD COLUMN owner_replica TEXT;
      ALTER TABLE machines ADD COLUMN owner_epoch BIGINT NOT NULL DEFAULT 0;
      CREATE INDEX machines_owner ON machines(owner_replica) WHERE online = 1;
    `,
  },
  {
    version: 8,
    name: 'decision origins telegram and push',
    // As SQLite's 8: the origin's CHECK is widened.
    sql: `
      ALTER TABLE approval_decisions DROP CONSTRAINT approval_decisions_origin_check;
      ALTER TABLE approval_decisions ADD CONSTRAINT approval_decisions_origin_check CHECK (origin IN ('page', 'cli', 'api', 'telegram', 'push'));
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
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX one_time_codes_expiry ON one_time_codes(expires_at);
    `,
  },
  {
    version: 10,
    name: 'shared rate limits',
    // Sign-in rate limits counted here, so a client behind a load balancer gets one budget, not
    // one per replica (rate-limits.ts). One row per limiter key: `tat` is the token bucket's
    // "theoretical arrival time" (GCRA), the moment the bucket is full again; a row whose tat has
    // passed says nothing and is deleted. PostgreSQL only: a SQLite hub is the only one on its
    // file and keeps its limiter in memory (src/shared/rate-limit.ts), which costs no write per
    // sign-in attempt; SQLite has no migration 10.
    sql: `
      CREATE TABLE rate_limits (
        key TEXT PRIMARY KEY,
        tat BIGINT NOT NULL,
        refused BOOLEAN NOT NULL DEFAULT FALSE
      );
      CREATE INDEX rate_limits_tat ON rate_limits(tat);
    `,
  },
  {
    version: 11,
    name: 'shared session activity',
    // The agent's activity (working, waiting, needs_approval with its pending requests) as the
    // replica holding the runner's stream last heard it, as activityJson text; NULL: none heard.
    // Written once per change of the activity (never per alive or per screen line), so any
    // replica lists and watches a session with it (session-activity.ts, `share`).
    sql: `ALTER TABLE sessions ADD COLUMN activity TEXT;`,
  },
];

/** Every migration's version, in order (numbers are agreed across branches, so one may be missing for a while). */
export const MIGRATION_VERSIONS: readonly number[] = MIGRATIONS.map((m) => m.version);

/** The newest schema version. */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Applies pending migrations up to `target` under the advisory lock, on one connection of the
 * pool; returns the versions this call applied (empty when another hub had done it).
 */
export async function migrate(pool: pg.Pool, target = LATEST_VERSION): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const m of MIGRATIONS) {
        if (done.has(m.version) || m.version > target) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          await client.query('COMMIT');
          applied.push(m.version);
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
    }
  } finally {
    client.release();
  }
  return applied;
}
