/**
 * The notifier's stored settings (a store port, implemented by every hub store): per-session
 * mutes and per-namespace preferences, the hub's VAPID key pair and browsers' push
 * subscriptions. Async like every port (src/hub/domain/ports.ts). The notifier reads a
 * session's mute and its namespace's settings when it is about to send, never from a copy: with
 * several hubs on one database, another hub may have changed them a moment ago.
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
  isSessionMuted(namespace: string, machineId: string, sessionId: string): Promise<boolean>;
  setSessionMuted(namespace: string, machineId: string, sessionId: string, muted: boolean, at: Date): Promise<void>;
  /** The namespace's muted sessions. */
  listMutedSessions(namespace: string): Promise<{ machineId: string; sessionId: string }[]>;
  getNotifySettings(namespace: string): Promise<NamespaceNotifySettings>;
  setNotifySettings(namespace: string, settings: NamespaceNotifySettings): Promise<void>;
  getVapidKeys(): Promise<VapidKeys | undefined>;
  /**
   * Saves the key pair unless one exists; returns the one kept. The first writer wins, also
   * when several hubs on one database save theirs at the same moment: all get the winner's.
   */
  saveVapidKeys(keys: VapidKeys): Promise<VapidKeys>;
  /** Adds or replaces (same endpoint) a subscription. */
  savePushSubscription(sub: PushSubscriptionRecord): Promise<void>;
  /** Deletes a subscription; `namespace` restricts it to that namespace's (undefined: any, for expired ones). */
  deletePushSubscription(endpoint: string, namespace?: string): Promise<boolean>;
  listPushSubscriptions(namespace: string): Promise<PushSubscriptionRecord[]>;
}
