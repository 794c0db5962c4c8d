/**
 * The notifier's stored settings (a store port, implemented by every hub store): per-session
 * mutes and per-namespace preferences. Reads are synchronous and cheap (the notifier asks on
 * every send).
 */

/** A namespace's notification preferences. */
export interface NamespaceNotifySettings {
  /** Also notify when a session exits or crashes (default off). */
  notifyOnExit: boolean;
}

export const DEFAULT_NAMESPACE_NOTIFY_SETTINGS: NamespaceNotifySettings = { notifyOnExit: false };

export interface NotifyStore {
  isSessionMuted(namespace: string, machineId: string, sessionId: string): boolean;
  setSessionMuted(namespace: string, machineId: string, sessionId: string, muted: boolean, at: Date): void;
  /** The namespace's muted sessions. */
  listMutedSessions(namespace: string): { machineId: string; sessionId: string }[];
  getNotifySettings(namespace: string): NamespaceNotifySettings;
  setNotifySettings(namespace: string, settings: NamespaceNotifySettings): void;
}
