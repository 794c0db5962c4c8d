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

/** The hub's VAPID key pair (Web Push), base64url as the web-push package gives it. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/** A browser's push subscription, held for the signed-in namespace that made it. */
export interface PushSubscriptionRecord {
  endpoint: string;
  /** The browser's P-256 public key (base64url, 65 bytes uncompressed). */
  p256dh: string;
  /** Its auth secret (base64url, 16 bytes). */
  auth: string;
  namespace: string;
  /** The token (or `telegram:<id>`) of the sign-in that subscribed. */
  tokenId: string;
  /** Read-only sign-ins get no Approve / Deny actions (the hub would refuse them anyway). */
  canDecide: boolean;
  createdAt: Date;
}

export interface NotifyStore {
  isSessionMuted(namespace: string, machineId: string, sessionId: string): boolean;
  setSessionMuted(namespace: string, machineId: string, sessionId: string, muted: boolean, at: Date): void;
  /** The namespace's muted sessions. */
  listMutedSessions(namespace: string): { machineId: string; sessionId: string }[];
  getNotifySettings(namespace: string): NamespaceNotifySettings;
  setNotifySettings(namespace: string, settings: NamespaceNotifySettings): void;
  getVapidKeys(): VapidKeys | undefined;
  /** Saves the key pair unless one exists; returns the one kept (the first writer wins). */
  saveVapidKeys(keys: VapidKeys): VapidKeys;
  /** Adds or replaces (same endpoint) a subscription. */
  savePushSubscription(sub: PushSubscriptionRecord): void;
  /** Deletes a subscription; `namespace` restricts it to that namespace's (undefined: any, for expired ones). */
  deletePushSubscription(endpoint: string, namespace?: string): boolean;
  listPushSubscriptions(namespace: string): PushSubscriptionRecord[];
}
