/**
 * Web Push as a notification channel: every push subscription of the notification's namespace
 * gets it, encrypted for that browser (aes128gcm, RFC 8291) and signed with the hub's VAPID key
 * (RFC 8292) by the `web-push` package; the request itself goes out with node's fetch (so a
 * local push service in development works too). A subscription the push service says is gone
 * (404 / 410) is deleted. The payload is what the service worker (web/public/sw.js) shows:
 * title, body, the session to open, and for a request the Approve / Deny actions it posts back
 * with the request id (only to subscriptions of sign-ins that may decide). `web-push` (with its
 * ASN.1 and JWS code) is loaded with the first push, not with the hub: most hubs send none.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../shared/logger.js';
import type { Notification, NotificationChannel } from '../domain/notify/activity-event.js';
import type { NotifyStore, PushSubscriptionRecord, VapidKeys } from '../domain/notify/notify-store.js';

/** A push message must stay under 4 KB once encrypted: keep the text short. */
const MAX_BODY_CHARS = 600;
/** A notification older than this is not worth showing. */
const TTL_S = 60 * 60;

/** What the service worker receives (JSON). */
export interface PushPayload {
  v: 1;
  title: string;
  body: string;
  /** One notification per session on the device: a newer one replaces it. */
  tag: string;
  machineId: string;
  sessionId: string;
  state: Notification['state'];
  /** Set with actions: what Approve / Deny answer. */
  requestId?: string;
  actions: { action: 'approve' | 'deny'; title: string }[];
}

const TITLE: Record<Notification['state'], string> = {
  needs_approval: 'Needs your approval',
  waiting_for_input: 'Waiting for your input',
  working: 'Working',
  exited: 'Exited',
};

export function pushPayload(n: Notification, canDecide: boolean): PushPayload {
  const request = n.requests.at(-1);
  const asks = n.requests.map((r) => `${r.tool || 'request'}: ${r.command || r.file || r.description}`);
  const body = [...asks, n.message, ...n.screen.slice(-3)].filter(Boolean).join('\n');
  const decides = canDecide && n.state === 'needs_approval' && request !== undefined;
  return {
    v: 1,
    title: `${TITLE[n.state]}: ${n.sessionName} on ${n.machineName}`.slice(0, 200),
    body: body.length > MAX_BODY_CHARS ? `${body.slice(0, MAX_BODY_CHARS - 1)}…` : body,
    tag: `hapi:${n.machineId}/${n.sessionId}`,
    machineId: n.machineId,
    sessionId: n.sessionId,
    state: n.state,
    ...(decides ? { requestId: request.id } : {}),
    actions: decides ? [{ action: 'approve', title: 'Approve' }, { action: 'deny', title: 'Deny' }] : [],
  };
}

export interface WebPushChannelOptions {
  store: NotifyStore;
  /** The hub's key pair (made once at start; a promise already resolved after that). */
  vapid: () => Promise<VapidKeys>;
  /** VAPID subject: an https URL (HAPI_HUB_PUBLIC_URL) or a mailto: address. */
  subject: string;
  log: Logger;
  timeoutMs?: number;
}

/** A VAPID token is good for up to 24 h; signing one (ES256) costs milliseconds, so reuse it an hour. */
const VAPID_REUSE_MS = 60 * 60 * 1000;
const VAPID_VALID_S = 2 * 60 * 60;

type WebPush = typeof import('web-push');
let webPushModule: Promise<WebPush> | undefined;
const loadWebPush = (): Promise<WebPush> => (webPushModule ??= import('web-push').then((m) => ((m as { default?: WebPush }).default ?? m) as WebPush));

export function createWebPushChannel(o: WebPushChannelOptions): NotificationChannel {
  /** The Authorization header per push service origin (the JWT's audience), reused while fresh. */
  const vapidHeaders = new Map<string, { headers: Record<string, string>; until: number; publicKey: string }>();
  async function vapidFor(endpoint: string): Promise<Record<string, string>> {
    const keys = await o.vapid();
    const audience = new URL(endpoint).origin;
    const cached = vapidHeaders.get(audience);
    if (cached && cached.until > Date.now() && cached.publicKey === keys.publicKey) return cached.headers;
    const webpush = await loadWebPush();
    const headers = webpush.getVapidHeaders(audience, o.subject, keys.publicKey, keys.privateKey, 'aes128gcm', Math.floor(Date.now() / 1000) + VAPID_VALID_S) as Record<string, string>;
    if (vapidHeaders.size > 100) vapidHeaders.clear();
    vapidHeaders.set(audience, { headers, until: Date.now() + VAPID_REUSE_MS, publicKey: keys.publicKey });
    return headers;
  }

  async function deliver(sub: PushSubscriptionRecord, n: Notification): Promise<void> {
    const payload = JSON.stringify(pushPayload(n, sub.canDecide));
    // The Topic header lets the push service replace an undelivered message of the same session.
    const topic = createHash('sha256').update(`${n.machineId}\0${n.sessionId}`).digest('base64url').slice(0, 32);
    const webpush = await loadWebPush();
    const req = webpush.generateRequestDetails({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }, payload, {
      headers: await vapidFor(sub.endpoint),
      TTL: TTL_S,
      urgency: n.state === 'needs_approval' ? 'high' : 'normal',
      topic,
      contentEncoding: 'aes128gcm',
    });
    const res = await fetch(req.endpoint, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: req.body ? new Uint8Array(req.body) : undefined,
      redirect: 'error',
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 404 || res.status === 410) {
      await o.store.deletePushSubscription(sub.endpoint);
      o.log.info({ status: res.status }, 'a push subscription expired; deleted');
      return;
    }
    if (!res.ok) throw new Error(`push service answered HTTP ${res.status}`);
  }

  return {
    name: 'web-push',
    async send(n) {
      const subs = await o.store.listPushSubscriptions(n.namespace);
      const results = await Promise.allSettled(subs.map((s) => deliver(s, n)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length > 0 && failed.length === results.length) throw failed[0]!.reason;
      for (const f of failed) o.log.warn({ err: f.reason }, 'a push notification was not delivered');
    },
  };
}
