/**
 * The notifier's tables (NotifyStore, src/hub/domain/notify/notify-store.ts) on the hub's
 * SQLite database: `notify_mutes` (one row per muted session) and `notify_settings` (one row
 * per namespace that changed a default). Schema: migrations.ts, "notifications".
 */
import type Database from 'better-sqlite3';
import { DEFAULT_NAMESPACE_NOTIFY_SETTINGS, type NotifyStore } from '../../domain/notify/notify-store.js';

export function sqliteNotifyTables(db: Database.Database): NotifyStore {
  const q = {
    muted: db.prepare('SELECT 1 FROM notify_mutes WHERE namespace = ? AND machine_id = ? AND session_id = ?'),
    mute: db.prepare('INSERT OR IGNORE INTO notify_mutes (namespace, machine_id, session_id, muted_at) VALUES (?, ?, ?, ?)'),
    unmute: db.prepare('DELETE FROM notify_mutes WHERE namespace = ? AND machine_id = ? AND session_id = ?'),
    listMuted: db.prepare('SELECT machine_id, session_id FROM notify_mutes WHERE namespace = ? ORDER BY muted_at, machine_id, session_id'),
    settings: db.prepare('SELECT notify_on_exit FROM notify_settings WHERE namespace = ?'),
    saveSettings: db.prepare(
      'INSERT INTO notify_settings (namespace, notify_on_exit) VALUES (?, ?) ON CONFLICT (namespace) DO UPDATE SET notify_on_exit = excluded.notify_on_exit',
    ),
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
  };
}
