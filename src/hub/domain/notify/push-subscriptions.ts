/**
 * Web Push subscriptions of signed-in callers (any scope: a read-only sign-in may be told, it
 * just cannot decide), and the hub's VAPID key pair, made once and kept in the store. The
 * endpoint is where the hub will POST: only https (a push service), or plain http on loopback
 * when the hub allows it for development; anything else would let a caller aim the hub's
 * requests at internal addresses.
 */
import { createECDH } from 'node:crypto';
import { InvalidArgumentError, ResourceExhaustedError } from '../../../shared/errors.js';
import { allows, requireScope } from '../scopes.js';
import type { Caller } from '../types.js';
import type { NotifyStore, VapidKeys } from './notify-store.js';

/** Most subscriptions a namespace may hold (a browser per person and device, with room). */
export const MAX_PUSH_SUBSCRIPTIONS_PER_NAMESPACE = 200;
const MAX_ENDPOINT_CHARS = 2048;
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** What a browser's PushSubscription.toJSON() gives. */
export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface PushSubscriptions {
  /** The hub's VAPID public key (applicationServerKey), created on first use. */
  publicKey(): Promise<string>;
  /**
   * The key pair, created on first use (the hub asks at start) and kept in the store; hubs
   * sharing a database all get the one that was saved first. Held once read: it never changes.
   */
  vapidKeys(): Promise<VapidKeys>;
  subscribe(caller: Caller, sub: PushSubscriptionInput): Promise<void>;
  /** Removes the caller's namespace's subscription; false when it had none such. */
  unsubscribe(caller: Caller, endpoint: string): Promise<boolean>;
}

/** A fresh P-256 key pair as VAPID wants it: the public key uncompressed, both base64url. */
export function generateVapidKeys(): VapidKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { publicKey: ecdh.getPublicKey().toString('base64url'), privateKey: ecdh.getPrivateKey().toString('base64url') };
}

function decodedLength(s: unknown, name: string): Buffer {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(s) || s.length > 200) throw new InvalidArgumentError(`${name} must be base64url`);
  return Buffer.from(s, 'base64url');
}

/** Checks a subscription from a browser; throws InvalidArgumentError naming the bad part. */
export function checkPushSubscription(sub: PushSubscriptionInput, allowLoopbackHttp: boolean): void {
  if (typeof sub.endpoint !== 'string' || sub.endpoint.length > MAX_ENDPOINT_CHARS) throw new InvalidArgumentError('endpoint must be a URL');
  let url: URL;
  try {
    url = new URL(sub.endpoint);
  } catch {
    throw new InvalidArgumentError('endpoint must be a URL');
  }
  const loopbackHttp = allowLoopbackHttp && url.protocol === 'http:' && LOOPBACK.has(url.hostname);
  if ((url.protocol !== 'https:' && !loopbackHttp) || url.username || url.password) {
    throw new InvalidArgumentError('endpoint must be an https URL of a push service');
  }
  const key = decodedLength(sub.keys?.p256dh, 'keys.p256dh');
  if (key.length !== 65 || key[0] !== 4) throw new InvalidArgumentError('keys.p256dh must be an uncompressed P-256 public key');
  if (decodedLength(sub.keys?.auth, 'keys.auth').length !== 16) throw new InvalidArgumentError('keys.auth must be 16 bytes');
}

export function createPushSubscriptions(o: { store: NotifyStore; now: () => Date; allowLoopbackHttp: boolean }): PushSubscriptions {
  // The pair is written once (the first writer wins, the store's saveVapidKeys) and never
  // changed afterwards, so the one read is kept; a failed read is not, the next call retries.
  let keys: Promise<VapidKeys> | undefined;
  const vapidKeys = (): Promise<VapidKeys> => {
    if (!keys) {
      const p = (async () => (await o.store.getVapidKeys()) ?? (await o.store.saveVapidKeys(generateVapidKeys())))();
      p.catch(() => {
        if (keys === p) keys = undefined;
      });
      keys = p;
    }
    return keys;
  };
  return {
    vapidKeys,
    publicKey: async () => (await vapidKeys()).publicKey,
    async subscribe(caller, sub) {
      requireScope(caller, 'list');
      checkPushSubscription(sub, o.allowLoopbackHttp);
      const existing = await o.store.listPushSubscriptions(caller.namespace);
      if (existing.length >= MAX_PUSH_SUBSCRIPTIONS_PER_NAMESPACE && !existing.some((s) => s.endpoint === sub.endpoint)) {
        throw new ResourceExhaustedError(`namespace ${caller.namespace} has ${existing.length} push subscriptions; remove some first`);
      }
      // An endpoint is one browser's: subscribing it again (another sign-in) moves it over.
      await o.store.deletePushSubscription(sub.endpoint);
      await o.store.savePushSubscription({
        endpoint: sub.endpoint,
        p256dh: sub.keys.p256dh,
        auth: sub.keys.auth,
        namespace: caller.namespace,
        tokenId: caller.tokenId,
        // Deciding is a write: read-only sign-ins get no buttons (and the hub refuses them anyway).
        canDecide: allows(caller.scope, 'spawn'),
        createdAt: o.now(),
      });
    },
    async unsubscribe(caller, endpoint) {
      requireScope(caller, 'list');
      return o.store.deletePushSubscription(endpoint, caller.namespace);
    },
  };
}
