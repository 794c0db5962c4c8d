/**
 * The hub's store ports (src/hub/domain/ports.ts) over PostgreSQL (node-postgres, a Pool), for
 * hubs that outgrow one process (README, "Hub on PostgreSQL"). The same tables and rows as the
 * SQLite adapter (../rows.ts); schema: migrations.ts, applied under an advisory lock at open.
 * Transactions run on one pooled client in READ COMMITTED (PostgreSQL's default); errors are
 * mapped in one place (../store-errors.ts). Loaded with a dynamic import only when
 * HAPI_HUB_DATABASE_URL is set, so neither pg nor this code reaches a SQLite hub or the CLI.
 */
import pg from 'pg';
import type { ApprovalDecisionStore, HubStore, OneTimeCodeStore, TransactionStores, WebSessionTable } from '../../domain/ports.js';
import { oneTimeCodesOver } from './one-time-codes.js';
import { sharedRateLimitsOver } from './rate-limits.js';
import type { MachineRecord } from '../../domain/types.js';
import { storeError } from '../store-errors.js';
import {
  decisionFromRow,
  decisionToRow,
  machineFromRow,
  ms,
  runnerStateToJson,
  activityToStored,
  sessionFromRow,
  tokenFromRow,
  webSessionFromRow,
  type DecisionRow,
  type MachineRow,
  type SessionRow,
  type TokenRow,
} from '../rows.js';
import { migrate } from './migrations.js';
import { postgresNotifyTables } from './notify-tables.js';

/** Something that runs a query: the pool, or the client of one transaction. */
type Queryable = Pick<pg.Pool, 'query'>;

/** BIGINT (epoch milliseconds, counts) as a JS number, as rows.ts expects: they stay below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** The URL without its password (what `path` shows: logs and `hapi hub` print it). */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

function machineParams(m: MachineRecord): unknown[] {
  return [
    m.id,
    m.namespace,
    JSON.stringify(m.metadata),
    m.metadataVersion,
    runnerStateToJson(m.runnerState),
    m.runnerStateVersion,
    m.online ? 1 : 0,
    ms(m.lastAlive),
    ms(m.onlineSince),
  ];
}

/** The ports over one Queryable (the pool, or a transaction's client). */
function portsOver(db: Queryable): TransactionStores & WebSessionTable & ApprovalDecisionStore & OneTimeCodeStore {
  const rows = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await db.query<R>(sql, params)).rows;
  const run = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rowCount ?? 0;
  return {
    ...oneTimeCodesOver(db),
    async ensureNamespace(name) {
      await run('INSERT INTO namespaces (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [name, Date.now()]);
    },
    async insertToken(rec, hash) {
      await run('INSERT INTO tokens (id, namespace, hash, label, owner, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        rec.id,
        rec.namespace,
        hash,
        rec.label,
        rec.owner ? 1 : 0,
        rec.scope,
        rec.createdAt.getTime(),
      ]);
    },
    async insertOwnerTokenOnce(rec, hash) {
      const n = await run(
        `INSERT INTO tokens (id, namespace, hash, label, owner, scope, created_at) VALUES ($1, $2, $3, $4, 1, 'full', $5) ON CONFLICT DO NOTHING`,
        [rec.id, rec.namespace, hash, rec.label, rec.createdAt.getTime()],
      );
      return n > 0;
    },
    async findTokenByHash(hash) {
      const [row] = await rows<TokenRow>('SELECT * FROM tokens WHERE hash = $1', [hash]);
      return row ? tokenFromRow(row) : undefined;
    },
    async getToken(id) {
      const [row] = await rows<TokenRow>('SELECT * FROM tokens WHERE id = $1', [id]);
      return row ? tokenFromRow(row) : undefined;
    },
    async listTokens() {
      return (await rows<TokenRow>('SELECT * FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, id')).map(tokenFromRow);
    },
    async revokeToken(id, at) {
      return (await run('UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at.getTime(), id])) > 0;
    },
    async countOwnerTokens() {
      const [row] = await rows<{ n: number }>('SELECT COUNT(*) AS n FROM tokens WHERE owner = 1 AND revoked_at IS NULL');
      return Number(row!.n);
    },
    async getMachine(id) {
      const [row] = await rows<MachineRow>('SELECT * FROM machines WHERE id = $1', [id]);
      return row ? machineFromRow(row) : undefined;
    },
    async listMachines(namespace) {
      return (await rows<MachineRow>('SELECT * FROM machines WHERE namespace = $1 ORDER BY online DESC, id', [namespace])).map(machineFromRow);
    },
    async insertMachine(m) {
      await run(
        `INSERT INTO machines (id, namespace, metadata, metadata_version, runner_state, runner_state_version, online, last_alive, online_since, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [...machineParams(m), Date.now()],
      );
    },
    async saveMachine(m) {
      await run(
        `UPDATE machines SET metadata = $3, metadata_version = $4, runner_state = $5, runner_state_version = $6, online = $7,
         last_alive = $8, online_since = $9 WHERE id = $1 AND namespace = $2`,
        machineParams(m),
      );
    },
    async saveLastAlive(entries) {
      if (entries.length === 0) return;
      // One statement for the whole batch.
      await run(
        `UPDATE machines SET last_alive = v.at FROM unnest($1::text[], $2::bigint[]) AS v(id, at) WHERE machines.id = v.id`,
        [entries.map((e) => e.id), entries.map((e) => e.lastAlive.getTime())],
      );
    },
    async markAllOffline(at) {
      // lostRunnerState (domain/versioned.ts) in SQL, as the SQLite adapter does with json_set.
      await run(
        `UPDATE machines SET runner_state = (runner_state::jsonb || jsonb_build_object('status', 'lost', 'lostAt', $1::bigint))::text,
         runner_state_version = runner_state_version + 1
         WHERE online = 1 AND runner_state::jsonb->>'status' = 'running'`,
        [at.getTime()],
      );
      return run('UPDATE machines SET online = 0, online_since = $1 WHERE online = 1', [at.getTime()]);
    },
    async claimMachine(machineId, replicaId) {
      const [row] = await rows<{ owner_epoch: number }>(
        'UPDATE machines SET owner_replica = $2, owner_epoch = owner_epoch + 1 WHERE id = $1 RETURNING owner_epoch',
        [machineId, replicaId],
      );
      return row?.owner_epoch;
    },
    async machineOwner(machineId) {
      // FOR UPDATE: inside a transaction the row stays locked until it ends (a claim waits);
      // outside one the lock ends with the statement.
      const [row] = await rows<{ owner_replica: string | null; owner_epoch: number }>(
        'SELECT owner_replica, owner_epoch FROM machines WHERE id = $1 FOR UPDATE',
        [machineId],
      );
      return row && { replicaId: row.owner_replica ?? undefined, epoch: row.owner_epoch };
    },
    async upsertSession(s) {
      await run(
        `INSERT INTO sessions (machine_id, id, namespace, pid, directory, agent, state, started_by, started_at, ended_at, exit_code, exit_signal, worktree, request_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (machine_id, id) DO UPDATE SET pid = excluded.pid, directory = excluded.directory, agent = excluded.agent,
           state = excluded.state, started_by = excluded.started_by, started_at = excluded.started_at, ended_at = excluded.ended_at,
           exit_code = excluded.exit_code, exit_signal = excluded.exit_signal, worktree = excluded.worktree,
           request_id = excluded.request_id, updated_at = excluded.updated_at`,
        [
          s.machineId,
          s.id,
          s.namespace,
          s.pid,
          s.directory,
          s.agent,
          s.state,
          s.startedBy,
          ms(s.startedAt),
          ms(s.endedAt),
          s.exitCode ?? null,
          s.exitSignal ?? null,
          s.worktree ? JSON.stringify(s.worktree) : null,
          s.requestId ?? null,
          Date.now(),
        ],
      );
    },
    async getSession(machineId, id) {
      const [row] = await rows<SessionRow>('SELECT * FROM sessions WHERE machine_id = $1 AND id = $2', [machineId, id]);
      return row ? sessionFromRow(row) : undefined;
    },
    async listSessions(namespace, opts) {
      const ended = opts.includeEnded ? 1 : 0;
      const list = opts.machineId
        ? await rows<SessionRow>(
            "SELECT * FROM sessions WHERE namespace = $1 AND machine_id = $2 AND ($3 = 1 OR state != 'ended') ORDER BY started_at DESC, id",
            [namespace, opts.machineId, ended],
          )
        : await rows<SessionRow>("SELECT * FROM sessions WHERE namespace = $1 AND ($2 = 1 OR state != 'ended') ORDER BY started_at DESC, id", [namespace, ended]);
      return list.map(sessionFromRow);
    },
    async liveSessionsOf(machineId) {
      return (await rows<SessionRow>("SELECT * FROM sessions WHERE machine_id = $1 AND state != 'ended'", [machineId])).map(sessionFromRow);
    },
    async setSessionActivity(machineId, id, activity) {
      await run('UPDATE sessions SET activity = $1 WHERE machine_id = $2 AND id = $3', [activityToStored(activity), machineId, id]);
    },
    async listWebSessions() {
      return (await rows('SELECT * FROM web_sessions')).map(webSessionFromRow);
    },
    async getWebSession(key) {
      const [row] = await rows('SELECT * FROM web_sessions WHERE key = $1', [key]);
      return row && webSessionFromRow(row);
    },
    async insertWebSession(w) {
      await run(
        `INSERT INTO web_sessions (key, csrf_token, kind, subject, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (key) DO UPDATE SET csrf_token = excluded.csrf_token, kind = excluded.kind, subject = excluded.subject,
           created_at = excluded.created_at, last_seen_at = excluded.last_seen_at`,
        [w.key, w.csrfToken, w.kind, w.subject, w.createdAt, w.lastSeenAt],
      );
    },
    async touchWebSession(key, lastSeenAt) {
      await run('UPDATE web_sessions SET last_seen_at = $1 WHERE key = $2', [lastSeenAt, key]);
    },
    async deleteWebSessions(keys) {
      if (keys.length > 0) await run('DELETE FROM web_sessions WHERE key = ANY($1::text[])', [keys]);
    },
    async insertDecision(d) {
      const row = decisionToRow(d);
      await run(
        `INSERT INTO approval_decisions (namespace, machine_id, session_id, request_id, request, decision, message, token_id, decided_by, origin, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [row.namespace, row.machine_id, row.session_id, row.request_id, row.request, row.decision, row.message, row.token_id, row.decided_by, row.origin, row.decided_at],
      );
    },
    async listDecisions(machineId, sessionId) {
      return (await rows<DecisionRow>('SELECT * FROM approval_decisions WHERE machine_id = $1 AND session_id = $2 ORDER BY seq', [machineId, sessionId])).map(
        decisionFromRow,
      );
    },
  };
}

/** Maps errors (storeError) on every port method, once, at the adapter's boundary. */
function mapErrors<T extends object>(ports: T): T {
  const out = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(ports)) {
    out[name] = async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        throw storeError(err);
      }
    };
  }
  return out as T;
}

export interface PostgresStoreOptions {
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  /** Called on an error of an idle pooled connection (the pool replaces it). */
  onIdleError?: (err: Error) => void;
  /**
   * One more connection, kept apart for a replica's heartbeat (`leasePool`): the heartbeat
   * decides whether the others think this replica dead, so it never queues behind the pool's work.
   */
  leaseConnection?: boolean;
}

/**
 * Connects to `url`, migrates (under the advisory lock) and returns the store. Rejects with
 * UnavailableError when PostgreSQL cannot be reached.
 */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<HubStore & { readonly pool: pg.Pool; readonly leasePool?: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: url, max: opts.maxConnections ?? 10, types: TYPES, connectionTimeoutMillis: 10_000 });
  const leasePool = opts.leaseConnection ? new pg.Pool({ connectionString: url, max: 1, types: TYPES, connectionTimeoutMillis: 10_000 }) : undefined;
  // An idle connection that dies (PostgreSQL restarted) must not crash the hub.
  pool.on('error', (err) => opts.onIdleError?.(err));
  leasePool?.on('error', (err) => opts.onIdleError?.(err));
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    await leasePool?.end().catch(() => undefined);
    throw storeError(err);
  }
  const ports = mapErrors({ ...postgresNotifyTables(pool), ...portsOver(pool), ...sharedRateLimitsOver(pool) });
  return {
    ...ports,
    pool,
    leasePool,
    path: redactDatabaseUrl(url),
    async transaction(work) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw storeError(err);
      }
      let broken: unknown;
      try {
        await client.query('BEGIN');
        const value = await work(mapErrors(portsOver(client)));
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
        throw storeError(err);
      } finally {
        // A client whose rollback failed is not given back to the pool.
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    async close() {
      await pool.end();
      await leasePool?.end();
    },
  };
}
