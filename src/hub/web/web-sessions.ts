/**
 * Server-side sign-in sessions of the web page. The browser holds only a random id in an
 * HttpOnly cookie; what the session stands for (a hub token, or a verified Telegram user)
 * stays here, and is resolved to a caller again on every request so that a revoked token or a
 * removed Telegram mapping takes effect at once. In memory: a hub restart signs everyone out.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** What the session was signed in with. */
export type Credential = { kind: 'token'; token: string } | { kind: 'telegram'; userId: number };

export interface WebSession {
  id: string;
  /** Sent by the page in the X-CSRF-Token header of every state-changing request. */
  csrfToken: string;
  credential: Credential;
  createdAt: number;
  lastSeenAt: number;
}

export interface WebSessionStoreOptions {
  /** A session unused for this long ends (sliding). */
  idleTimeoutMs: number;
  /** A session ends this long after sign-in, however much it is used. */
  maxLifetimeMs: number;
  /** At most this many sessions; the least recently used is dropped first. */
  maxSessions: number;
  /** Injectable clock. */
  now?: () => number;
}

export interface WebSessionStore {
  create(credential: Credential): WebSession;
  /** The live session with this id (refreshing its idle timer), or undefined. */
  get(id: string | undefined): WebSession | undefined;
  delete(id: string): void;
  /** Called with the id whenever a session ends (sign-out, expiry, eviction). */
  onEnd(listener: (id: string) => void): void;
  size(): number;
}

export const DEFAULT_SESSION_OPTIONS: WebSessionStoreOptions = {
  idleTimeoutMs: 24 * 60 * 60 * 1000,
  maxLifetimeMs: 7 * 24 * 60 * 60 * 1000,
  maxSessions: 10_000,
};

/** 256 random bits, base64url (43 characters). */
export function randomId(): string {
  return randomBytes(32).toString('base64url');
}

const ID_RE = /^[A-Za-z0-9_-]{43}$/;

export function createWebSessionStore(options: Partial<WebSessionStoreOptions> = {}): WebSessionStore {
  const opts = { ...DEFAULT_SESSION_OPTIONS, ...options };
  const now = opts.now ?? Date.now;
  // A Map iterates in insertion order; re-inserting on use keeps it in LRU order.
  const sessions = new Map<string, WebSession>();
  const listeners: Array<(id: string) => void> = [];

  function end(id: string): void {
    if (!sessions.delete(id)) return;
    for (const listener of listeners) listener(id);
  }

  function expired(s: WebSession, t: number): boolean {
    return t - s.lastSeenAt > opts.idleTimeoutMs || t - s.createdAt > opts.maxLifetimeMs;
  }

  return {
    create(credential) {
      const t = now();
      // Drop expired sessions first, then the least recently used while over the cap.
      for (const s of sessions.values()) if (expired(s, t)) end(s.id);
      while (sessions.size >= opts.maxSessions) end(sessions.keys().next().value!);
      const session: WebSession = { id: randomId(), csrfToken: randomId(), credential, createdAt: t, lastSeenAt: t };
      sessions.set(session.id, session);
      return session;
    },
    get(id) {
      if (id === undefined || !ID_RE.test(id)) return undefined;
      const session = sessions.get(id);
      if (!session) return undefined;
      const t = now();
      if (expired(session, t)) {
        end(id);
        return undefined;
      }
      session.lastSeenAt = t;
      sessions.delete(id);
      sessions.set(id, session);
      return session;
    },
    delete(id) {
      end(id);
    },
    onEnd(listener) {
      listeners.push(listener);
    },
    size() {
      return sessions.size;
    },
  };
}

/** Constant-time comparison of two secrets (false when the lengths differ). */
export function secretsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
