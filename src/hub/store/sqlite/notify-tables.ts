/**
 * The notifier's tables (NotifyStore, src/hub/domain/notify/notify-store.ts) on the hub's
 * SQLite database: `notify_mutes` (one row per muted session) and `notify_settings` (one row
 * per namespace that changed a default), `push_vapid` (the hub's one VAPID key pair) and
 * `push_subscriptions`. Schema: migrations.ts, "notifications". The VAPID key pair row is
 * inserted only when none exists (INSERT OR IGNORE), then read back: the first writer wins.
 */
import type Database from 'better-sqlite3';
import { DEFAULT_NAMESPACE_NOTIFY_SETTINGS, type NotifyStore, type PushSubscriptionRecord, type VapidKeys } from '../../domain/notify/notify-store.js';
import type { Synchronous } from './sync-gate.js';

/** The NotifyStore port's queries, answered synchronously (sqlite-store.ts makes them async). */
export function sqliteNotifyTables(db: Database.Database): Synchronous<NotifyStore> {
  const q = {
    muted: db.prepare('SELECT 1 FROM notify_mutes WHERE namespace = ? AND machine_id = ? AND session_id = ?'),
    mute: db.prepare('INSERT OR IGNORE INTO notify_mutes (namespace, machine_id, session_id, muted_at) VALUES (?, ?, ?, ?)'),
    unmute: db.prepare('DELETE FROM notify_mutes WHERE namespace = ? AND machine_id = ? AND session_id = ?'),
    listMuted: db.prepare('SELECT machine_id, session_id FROM notify_mutes WHERE namespace = ? ORDER BY muted_at, machine_id, session_id'),
    settings: db.prepare('SELECT notify_on_exit FROM notify_settings WHERE namespace = ?'),
    saveSettings: db.prepare(
      'INSERT INTO notify_settings (namespace, notify_on_exit) VALUES (?, ?) ON CONFLICT (namespace) DO UPDATE SET notify_on_exit = excluded.notify_on_exit',
    ),
    vapid: db.prepare('SELECT public_key, private_key FROM push_vapid WHERE id = 1'),
    saveVapid: db.prepare('INSERT OR IGNORE INTO push_vapid (id, public_key, private_key) VALUES (1, ?, ?)'),
    savePush: db.prepare(
      `INSERT INTO push_subscriptions (endpoint, p256dh, auth, namespace, token_id, can_decide, created_at) VALUES (@endpoint, @p256dh, @auth, @namespace, @token_id, @can_decide, @created_at)
       ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, namespace = excluded.namespace,
         token_id = excluded.token_id, can_decide = excluded.can_decide, created_at = excluded.created_at`,
    ),
    deletePush: db.prepare('DELETE FROM push_subscriptions WHERE endpoint = ?'),
    deletePushOf: db.prepare('DELETE FROM push_subscriptions WHERE endpoint = ? AND namespace = ?'),
    listPush: db.prepare('SELECT * FROM push_subscriptions WHERE namespace = ? ORDER BY created_at, endpoint'),
  };
  const pushFromRow = (r: Record<string, unknown>): PushSubscriptionRecord => ({
    endpoint: r.endpoint as string,
    p256dh: r.p256dh as string,
    auth: r.auth as string,
    namespace: r.namespace as string,
    tokenId: r.token_id as string,
    canDecide: r.can_decide === 1,
    createdAt: new Date(r.created_at as number),
  });
  const vapid = (): VapidKeys | undefined => {
    const row = q.vapid.get() as { public_key: string; private_key: string } | undefined;
    return row && { publicKey: row.public_key, privateKey: row.private_key };
  };
  return {
    isSessionMuted: (namespace, machineId, sessionId) => q.muted.get(namespace, machineId, sessionId) !== undefined,
    setSessionMuted(namespace, machineId, sessionId, muted, at) {
      if (muted) q.mute.run(namespace, machineId, sessionId, at.getTime());
      else q.unmute.run(namespace, machineId, sessionId);
    },
    listMutedSessions: (namespace) =>
      (q.listMuted.all(namespace) as { machine_id: string; session_id: string }[]).map((r) => ({ machineId: r.machine_id, sessionId: r.session_id })),
    getNotifySettings(namespace) {
      const row = q.settings.get(namespace) as { notify_on_exit: number } | undefined;
      return row ? { notifyOnExit: row.notify_on_exit === 1 } : { ...DEFAULT_NAMESPACE_NOTIFY_SETTINGS };
    },
    setNotifySettings(namespace, s) {
      q.saveSettings.run(namespace, s.notifyOnExit ? 1 : 0);
    },
    getVapidKeys: vapid,
    saveVapidKeys(keys) {
      q.saveVapid.run(keys.publicKey, keys.privateKey);
      return vapid()!;
    },
    savePushSubscription(s) {
      q.savePush.run({
        endpoint: s.endpoint,
        p256dh: s.p256dh,
        auth: s.auth,
        namespace: s.namespace,
        token_id: s.tokenId,
        can_decide: s.canDecide ? 1 : 0,
        created_at: s.createdAt.getTime(),
      });
    },
    deletePushSubscription: (endpoint, namespace) =>
      (namespace === undefined ? q.deletePush.run(endpoint) : q.deletePushOf.run(endpoint, namespace)).changes > 0,
    listPushSubscriptions: (namespace) => (q.listPush.all(namespace) as Record<string, unknown>[]).map(pushFromRow),
  };
}
