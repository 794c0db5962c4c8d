/**
 * The notifier's tables (NotifyStore, src/hub/domain/notify/notify-store.ts) on PostgreSQL,
 * the same tables and columns as the SQLite adapter's (../sqlite/notify-tables.ts; schema:
 * migrations.ts, version 5). Several hubs may share the database: the VAPID key pair is
 * inserted only when none exists (ON CONFLICT DO NOTHING) and then read back, so hubs starting
 * together all end up with the one pair that was committed first.
 */
import type pg from 'pg';
import { DEFAULT_NAMESPACE_NOTIFY_SETTINGS, type NotifyStore, type PushSubscriptionRecord, type VapidKeys } from '../../domain/notify/notify-store.js';

interface PushRow {
  endpoint: string;
  p256dh: string;
  auth: string;
  namespace: string;
  token_id: string;
  can_decide: number;
  created_at: number;
}

const pushFromRow = (r: PushRow): PushSubscriptionRecord => ({
  endpoint: r.endpoint,
  p256dh: r.p256dh,
  auth: r.auth,
  namespace: r.namespace,
  tokenId: r.token_id,
  canDecide: r.can_decide === 1,
  createdAt: new Date(r.created_at),
});

/** The NotifyStore port over a pool (or a client); errors are mapped by the caller (postgres-store.ts). */
export function postgresNotifyTables(db: Pick<pg.Pool, 'query'>): NotifyStore {
  const rows = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await db.query<R>(sql, params)).rows;
  const run = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rowCount ?? 0;
  const vapid = async (): Promise<VapidKeys | undefined> => {
    const [row] = await rows<{ public_key: string; private_key: string }>('SELECT public_key, private_key FROM push_vapid WHERE id = 1');
    return row && { publicKey: row.public_key, privateKey: row.private_key };
  };
  return {
    async isSessionMuted(namespace, machineId, sessionId) {
      return (await rows('SELECT 1 FROM notify_mutes WHERE namespace = $1 AND machine_id = $2 AND session_id = $3', [namespace, machineId, sessionId])).length > 0;
    },
    async setSessionMuted(namespace, machineId, sessionId, muted, at) {
      if (muted) {
        await run('INSERT INTO notify_mutes (namespace, machine_id, session_id, muted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
          namespace,
          machineId,
          sessionId,
          at.getTime(),
        ]);
      } else {
        await run('DELETE FROM notify_mutes WHERE namespace = $1 AND machine_id = $2 AND session_id = $3', [namespace, machineId, sessionId]);
      }
    },
    async listMutedSessions(namespace) {
      const list = await rows<{ machine_id: string; session_id: string }>(
        'SELECT machine_id, session_id FROM notify_mutes WHERE namespace = $1 ORDER BY muted_at, machine_id, session_id',
        [namespace],
      );
      return list.map((r) => ({ machineId: r.machine_id, sessionId: r.session_id }));
    },
    async getNotifySettings(namespace) {
      const [row] = await rows<{ notify_on_exit: number }>('SELECT notify_on_exit FROM notify_settings WHERE namespace = $1', [namespace]);
      return row ? { notifyOnExit: row.notify_on_exit === 1 } : { ...DEFAULT_NAMESPACE_NOTIFY_SETTINGS };
    },
    async setNotifySettings(namespace, s) {
      await run(
        'INSERT INTO notify_settings (namespace, notify_on_exit) VALUES ($1, $2) ON CONFLICT (namespace) DO UPDATE SET notify_on_exit = excluded.notify_on_exit',
        [namespace, s.notifyOnExit ? 1 : 0],
      );
    },
    getVapidKeys: vapid,
    async saveVapidKeys(keys) {
      // A hub inserting at the same moment waits for the other's commit, then inserts nothing.
      await run('INSERT INTO push_vapid (id, public_key, private_key) VALUES (1, $1, $2) ON CONFLICT DO NOTHING', [keys.publicKey, keys.privateKey]);
      return (await vapid())!;
    },
    async savePushSubscription(s) {
      await run(
        `INSERT INTO push_subscriptions (endpoint, p256dh, auth, namespace, token_id, can_decide, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, namespace = excluded.namespace,
           token_id = excluded.token_id, can_decide = excluded.can_decide, created_at = excluded.created_at`,
        [s.endpoint, s.p256dh, s.auth, s.namespace, s.tokenId, s.canDecide ? 1 : 0, s.createdAt.getTime()],
      );
    },
    async deletePushSubscription(endpoint, namespace) {
      const n =
        namespace === undefined
          ? await run('DELETE FROM push_subscriptions WHERE endpoint = $1', [endpoint])
          : await run('DELETE FROM push_subscriptions WHERE endpoint = $1 AND namespace = $2', [endpoint, namespace]);
      return n > 0;
    },
    async listPushSubscriptions(namespace) {
      return (await rows<PushRow>('SELECT * FROM push_subscriptions WHERE namespace = $1 ORDER BY created_at, endpoint', [namespace])).map(pushFromRow);
    },
  };
}
