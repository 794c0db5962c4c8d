/**
 * The hub's core tables on SQLite as synchronous ports (better-sqlite3 answers at once):
 * namespaces, tokens (sha256 hashes only), machines with versioned metadata and runner state,
 * sessions, web sign-ins and approval decisions. Schema: migrations.ts; rows <-> records:
 * ../rows.ts (shared with the PostgreSQL adapter). sqlite-store.ts makes them async.
 */
import type Database from 'better-sqlite3';
import type { ApprovalDecisionStore, TransactionStores, WebSessionTable } from '../../domain/ports.js';
import type { MachineRecord } from '../../domain/types.js';
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
import type { Synchronous } from './sync-gate.js';

/** The ports of the core tables, prepared once on `db`. */
export function sqliteCoreTables(db: Database.Database): Synchronous<TransactionStores & WebSessionTable & ApprovalDecisionStore> {
  const q = {
    ensureNs: db.prepare('INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)'),
    insertToken: db.prepare(
      'INSERT INTO tokens (id, namespace, hash, label, owner, scope, created_at) VALUES (@id, @namespace, @hash, @label, @owner, @scope, @created_at)',
    ),
    insertOwnerOnce: db.prepare(
      `INSERT INTO tokens (id, namespace, hash, label, owner, scope, created_at) VALUES (@id, @namespace, @hash, @label, 1, 'full', @created_at)
       ON CONFLICT DO NOTHING`,
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
    // lostRunnerState (domain/versioned.ts) in SQL: runner_state is runnerStateToJson's text.
    allLost: db.prepare(
      `UPDATE machines SET runner_state = json_set(runner_state, '$.status', 'lost', '$.lostAt', @at),
       runner_state_version = runner_state_version + 1
       WHERE online = 1 AND json_extract(runner_state, '$.status') = 'running'`,
    ),
    upsertSession: db.prepare(
      `INSERT INTO sessions (machine_id, id, namespace, pid, directory, agent, state, started_by, started_at, ended_at, exit_code, exit_signal, worktree, request_id, updated_at)
       VALUES (@machine_id, @id, @namespace, @pid, @directory, @agent, @state, @started_by, @started_at, @ended_at, @exit_code, @exit_signal, @worktree, @request_id, @updated_at)
       ON CONFLICT (machine_id, id) DO UPDATE SET pid = excluded.pid, directory = excluded.directory, agent = excluded.agent,
         state = excluded.state, started_by = excluded.started_by, started_at = excluded.started_at, ended_at = excluded.ended_at,
         exit_code = excluded.exit_code, exit_signal = excluded.exit_signal, worktree = excluded.worktree,
         request_id = excluded.request_id, updated_at = excluded.updated_at`,
    ),
    session: db.prepare('SELECT * FROM sessions WHERE machine_id = ? AND id = ?'),
    sessionActivity: db.prepare('UPDATE sessions SET activity = ? WHERE machine_id = ? AND id = ?'),
    sessionsNs: db.prepare("SELECT * FROM sessions WHERE namespace = ? AND (? = 1 OR state != 'ended') ORDER BY started_at DESC, id"),
    sessionsMachine: db.prepare(
      "SELECT * FROM sessions WHERE namespace = ? AND machine_id = ? AND (? = 1 OR state != 'ended') ORDER BY started_at DESC, id",
    ),
    liveOf: db.prepare("SELECT * FROM sessions WHERE machine_id = ? AND state != 'ended'"),
    webSessions: db.prepare('SELECT * FROM web_sessions'),
    webSession: db.prepare('SELECT * FROM web_sessions WHERE key = ?'),
    insertWebSession: db.prepare(
      `INSERT OR REPLACE INTO web_sessions (key, csrf_token, kind, subject, created_at, last_seen_at)
       VALUES (@key, @csrf_token, @kind, @subject, @created_at, @last_seen_at)`,
    ),
    touchWebSession: db.prepare('UPDATE web_sessions SET last_seen_at = ? WHERE key = ?'),
    deleteWebSession: db.prepare('DELETE FROM web_sessions WHERE key = ?'),
    insertDecision: db.prepare(
      `INSERT INTO approval_decisions (namespace, machine_id, session_id, request_id, request, decision, message, token_id, decided_by, origin, decided_at)
       VALUES (@namespace, @machine_id, @session_id, @request_id, @request, @decision, @message, @token_id, @decided_by, @origin, @decided_at)`,
    ),
    decisions: db.prepare('SELECT * FROM approval_decisions WHERE machine_id = ? AND session_id = ? ORDER BY seq'),
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
        scope: rec.scope,
        created_at: rec.createdAt.getTime(),
      });
    },
    insertOwnerTokenOnce(rec, hash) {
      const row = { id: rec.id, namespace: rec.namespace, hash, label: rec.label, created_at: rec.createdAt.getTime() };
      return q.insertOwnerOnce.run(row).changes > 0;
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
      return db.transaction(() => {
        q.allLost.run({ at: at.getTime() });
        return q.allOffline.run(at.getTime()).changes;
      })();
    },
    claimMachine(machineId, replicaId) {
      const row = db.prepare('UPDATE machines SET owner_replica = ?, owner_epoch = owner_epoch + 1 WHERE id = ? RETURNING owner_epoch').get(replicaId, machineId) as
        | { owner_epoch: number }
        | undefined;
      return row?.owner_epoch;
    },
    machineOwner(machineId) {
      // One connection, transactions BEGIN IMMEDIATE: nothing else writes meanwhile.
      const row = db.prepare('SELECT owner_replica, owner_epoch FROM machines WHERE id = ?').get(machineId) as
        | { owner_replica: string | null; owner_epoch: number }
        | undefined;
      return row && { replicaId: row.owner_replica ?? undefined, epoch: row.owner_epoch };
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
    setSessionActivity(machineId, id, activity) {
      q.sessionActivity.run(activityToStored(activity), machineId, id);
    },
    listWebSessions() {
      return (q.webSessions.all() as Record<string, unknown>[]).map(webSessionFromRow);
    },
    getWebSession(key) {
      const row = q.webSession.get(key) as Record<string, unknown> | undefined;
      return row && webSessionFromRow(row);
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
    insertDecision(d) {
      q.insertDecision.run(decisionToRow(d));
    },
    listDecisions(machineId, sessionId) {
      return (q.decisions.all(machineId, sessionId) as DecisionRow[]).map(decisionFromRow);
    },
  };
}
