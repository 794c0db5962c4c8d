/**
 * Server-side sign-in sessions of the web page. The browser holds only a random id in an
 * HttpOnly cookie; what the session stands for (a hub token's id, or a verified Telegram user)
 * stays here, and is resolved to a caller again on every request so that a revoked token or a
 * removed Telegram mapping takes effect at once.
 *
 * With a persistence port (the hub database) sessions survive a hub restart. Neither the
 * cookie value nor a hub token is ever stored: sessions are keyed by the SHA-256 of the cookie,
 * and a token sign-in keeps only the token's id.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { WebSessionTable } from '../domain/ports.js';
import type { WebSessionRecord } from '../domain/types.js';

/** What the session was signed in with. */
export type Credential = { kind: 'token'; tokenId: string } | { kind: 'telegram'; userId: number };

export interface WebSession {
  /** The SHA-256 of the cookie value (base64url): what the store is keyed by. */
  key: string;
  /** Sent by the page in the X-CSRF-Token header of every state-changing request. */
  csrfToken: string;
  credential: Credential;
  createdAt: number;
  lastSeenAt: number;
}

/** Where sessions are kept across restarts (implemented over the hub database). */
export interface WebSessionPersistence {
  load(): WebSession[];
  insert(session: WebSession): void;
  touch(key: string, lastSeenAt: number): void;
  delete(keys: string[]): void;
  /**
   * With several hub replicas on one database: the row as it is now (after this replica's own
   * writes went through), since a sign-in or sign-out may have happened on another replica.
   */
  fetch?(key: string): Promise<WebSession | undefined>;
  /** Shared: resolves once the writes asked for so far went through (before a sign-in or sign-out is answered). */
  settled?(): Promise<void>;
}

/**
 * Persistence over a database table, its rows read once here; rows that do not parse are
 * dropped. Writes go through in the order they were made (one at a time: a delete never
 * overtakes the insert it follows) without making a sign-in wait; one that fails goes to
 * `onError` (memory stays the truth for this hub's life; the table is for its next start).
 */
/** A stored row as a session; undefined when it does not parse. */
function fromRecord(r: WebSessionRecord): WebSession | undefined {
  const userId = Number(r.subject);
  const credential: Credential | undefined =
    r.kind === 'token' ? { kind: 'token', tokenId: r.subject } : Number.isSafeInteger(userId) ? { kind: 'telegram', userId } : undefined;
  return credential && { key: r.key, csrfToken: r.csrfToken, credential, createdAt: r.createdAt, lastSeenAt: r.lastSeenAt };
}

export async function tablePersistence(
  table: WebSessionTable,
  onError: (err: unknown) => void = () => undefined,
  opts: { shared?: boolean } = {},
): Promise<WebSessionPersistence> {
  const rows = await table.listWebSessions();
  let last: Promise<void> = Promise.resolve();
  const write = (fn: () => Promise<void>) => {
    last = last.then(fn).catch(onError);
  };
  return {
    load() {
      return rows.map(fromRecord).filter((s): s is WebSession => s !== undefined);
    },
    // Shared (replicas): read after this replica's own queued writes, so a sign-in made here a
    // moment ago is found and not taken for a sign-out elsewhere.
    fetch: opts.shared
      ? async (key) => {
          await last;
          const r = await table.getWebSession(key);
          return r && fromRecord(r);
        }
      : undefined,
    settled: opts.shared ? () => last : undefined,
    insert(s) {
      const subject = s.credential.kind === 'token' ? s.credential.tokenId : String(s.credential.userId);
      const row = { key: s.key, csrfToken: s.csrfToken, kind: s.credential.kind, subject, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt };
      write(() => table.insertWebSession(row));
    },
    touch: (key, lastSeenAt) => write(() => table.touchWebSession(key, lastSeenAt)),
    delete: (keys) => write(() => table.deleteWebSessions(keys)),
  };
}

export interface WebSessionStoreOptions {
  /** A session unused for this long ends (sliding). */
  idleTimeoutMs: number;
  /** A session ends this long after sign-in, however much it is used. */
  maxLifetimeMs: number;
  /**
   * At most this many sessions. When full, a new sign-in ends the least recently used session
   * of the credential that holds the most, so no credential can push out another's.
   */
  maxSessions: number;
  /** At most this many sessions per credential (a hub token, a Telegram user); its least recently used ends first. */
  maxSessionsPerCredential: number;
  /** Injectable clock. */
  now?: () => number;
  /** Keeps sessions across restarts; in memory only when undefined. */
  persistence?: WebSessionPersistence;
}

export interface WebSessionStore {
  /** A new session and the cookie value that names it (kept nowhere else). */
  create(credential: Credential): { session: WebSession; cookie: string };
  /** The live session of this cookie value (refreshing its idle timer), or undefined. */
  get(cookie: string | undefined): WebSession | undefined;
  /** The same by the session's key (what an attach ticket keeps). */
  getByKey(key: string): WebSession | undefined;
  delete(key: string): void;
  /** Called with the key whenever a session ends (sign-out, expiry, eviction). */
  onEnd(listener: (key: string) => void): void;
  size(): number;
  /**
   * With shared persistence (several replicas): makes memory agree with the table for this key
   * before it is used: a sign-in made on another replica is taken in, one ended there ends here
   * too (its listeners told). Nothing to do otherwise.
   */
  refresh(key: string): Promise<void>;
  /** With shared persistence: resolves once this store's writes so far are in the table (another replica sees them). */
  saved(): Promise<void>;
}

/** A last-seen time is written through at most this often per session. */
const TOUCH_PERSIST_MS = 60_000;

export const DEFAULT_SESSION_OPTIONS: WebSessionStoreOptions = {
  idleTimeoutMs: 24 * 60 * 60 * 1000,
  maxLifetimeMs: 7 * 24 * 60 * 60 * 1000,
  maxSessions: 10_000,
  maxSessionsPerCredential: 100,
};

/** What a credential is counted by: one hub token, or one Telegram user. */
export function credentialKey(c: Credential): string {
  return c.kind === 'token' ? `token:${c.tokenId}` : `telegram:${c.userId}`;
}

/** 256 random bits, base64url (43 characters). */
export function randomId(): string {
  return randomBytes(32).toString('base64url');
}

const ID_RE = /^[A-Za-z0-9_-]{43}$/;

/** A cookie value of the form this store makes (anything else is never looked up). */
export function sessionCookieValid(cookie: string): boolean {
  return ID_RE.test(cookie);
}

/** The store key of a cookie value. */
export function sessionKey(cookie: string): string {
  return createHash('sha256').update(cookie).digest('base64url');
}

export function createWebSessionStore(options: Partial<WebSessionStoreOptions> = {}): WebSessionStore {
  const opts = { ...DEFAULT_SESSION_OPTIONS, ...options };
  const now = opts.now ?? Date.now;
  const persistence = opts.persistence;
  // A Map iterates in insertion order; re-inserting on use keeps it in LRU order.
  const sessions = new Map<string, WebSession>();
  // Last-seen time as last written through, per key.
  const persistedSeen = new Map<string, number>();
  const listeners: Array<(key: string) => void> = [];

  function endMany(keys: string[]): void {
    const ended = keys.filter((key) => sessions.delete(key));
    for (const key of keys) persistedSeen.delete(key);
    if (keys.length > 0) persistence?.delete(keys);
    for (const key of ended) for (const listener of listeners) listener(key);
  }

  /** The least recently used session of the credential that holds the most sessions. */
  function leastRecentOfLargestCredential(): string {
    const counts = new Map<string, number>();
    for (const s of sessions.values()) counts.set(credentialKey(s.credential), (counts.get(credentialKey(s.credential)) ?? 0) + 1);
    let largest = '';
    for (const [key, n] of counts) if (n > (counts.get(largest) ?? 0)) largest = key;
    for (const s of sessions.values()) if (credentialKey(s.credential) === largest) return s.key;
    return sessions.keys().next().value!;
  }

  function expired(s: WebSession, t: number): boolean {
    return t - s.lastSeenAt > opts.idleTimeoutMs || t - s.createdAt > opts.maxLifetimeMs;
  }

  if (persistence) {
    const t = now();
    const loaded = persistence.load().sort((a, b) => a.lastSeenAt - b.lastSeenAt);
    const stale: string[] = [];
    for (const s of loaded) {
      if (expired(s, t)) stale.push(s.key);
      else {
        sessions.set(s.key, s);
        persistedSeen.set(s.key, s.lastSeenAt);
      }
    }
    if (stale.length > 0) persistence.delete(stale);
    // Sign-ins kept by a hub without these caps (or with larger ones) are brought within them.
    const byCredential = new Map<string, string[]>();
    for (const s of sessions.values()) {
      const key = credentialKey(s.credential);
      byCredential.set(key, [...(byCredential.get(key) ?? []), s.key]);
    }
    endMany([...byCredential.values()].flatMap((keys) => keys.slice(0, Math.max(0, keys.length - opts.maxSessionsPerCredential))));
    while (sessions.size > opts.maxSessions) endMany([leastRecentOfLargestCredential()]);
  }

  function byKey(key: string): WebSession | undefined {
    const session = sessions.get(key);
    if (!session) return undefined;
    const t = now();
    if (expired(session, t)) {
      endMany([key]);
      return undefined;
    }
    session.lastSeenAt = t;
    sessions.delete(key);
    sessions.set(key, session);
    if (persistence && t - (persistedSeen.get(key) ?? 0) >= TOUCH_PERSIST_MS) {
      try {
        persistence.touch(key, t);
        persistedSeen.set(key, t);
      } catch {
        // Bookkeeping only (e.g. the database is busy): the next use writes it through.
      }
    }
    return session;
  }

  return {
    create(credential) {
      const t = now();
      endMany([...sessions.values()].filter((s) => expired(s, t)).map((s) => s.key));
      // Room for one more of this credential, then for one more in all (see maxSessions).
      const own = credentialKey(credential);
      const mine = [...sessions.values()].filter((s) => credentialKey(s.credential) === own);
      endMany(mine.slice(0, Math.max(0, mine.length - opts.maxSessionsPerCredential + 1)).map((s) => s.key));
      while (sessions.size >= opts.maxSessions) endMany([leastRecentOfLargestCredential()]);
      const cookie = randomId();
      const session: WebSession = { key: sessionKey(cookie), csrfToken: randomId(), credential, createdAt: t, lastSeenAt: t };
      sessions.set(session.key, session);
      persistence?.insert(session);
      persistedSeen.set(session.key, t);
      return { session, cookie };
    },
    get(cookie) {
      if (cookie === undefined || !ID_RE.test(cookie)) return undefined;
      return byKey(sessionKey(cookie));
    },
    getByKey: byKey,
    delete(key) {
      endMany([key]);
    },
    onEnd(listener) {
      listeners.push(listener);
    },
    size() {
      return sessions.size;
    },
    saved: () => persistence?.settled?.() ?? Promise.resolve(),
    async refresh(key) {
      if (!persistence?.fetch) return;
      const stored = await persistence.fetch(key);
      if (!stored) {
        if (!sessions.delete(key)) return;
        persistedSeen.delete(key);
        for (const listener of listeners) listener(key);
        return;
      }
      if (sessions.has(key)) return;
      sessions.set(key, stored);
      persistedSeen.set(key, stored.lastSeenAt);
    },
  };
}
