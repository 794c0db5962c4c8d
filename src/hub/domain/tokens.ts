/**
 * Bearer tokens and namespaces: resolving a token to its caller (cached by hash), the owner
 * token created on first start, create/list/revoke for the owner, and revocation watchers so
 * a stream opened with a token ends the moment it is revoked.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from '../../shared/errors.js';
import type { TokenStore, UnitOfWork } from './ports.js';
import { NAMESPACE_PATTERN } from '../../contract/types.js';
import { TOKEN_SCOPES, type TokenScope } from './scopes.js';
import { DEFAULT_NAMESPACE, type Caller, type TokenRecord } from './types.js';

/** A token's secret and the ids it was stored under. */
export interface IssuedToken {
  tokenId: string;
  token: string;
  namespace: string;
  scope: TokenScope;
}

export interface Tokens {
  /** Resolves a bearer token; UnauthenticatedError (no detail) for anything else. */
  authenticate(token: string | undefined): Promise<Caller>;
  /** The caller of a token by its id (a stored web sign-in); UnauthenticatedError once revoked. */
  authenticateTokenId(tokenId: string): Promise<Caller>;
  /** Creates the first owner token when none exists; returns its secret, or undefined. */
  bootstrapOwnerToken(): Promise<IssuedToken | undefined>;
  /** A token for `namespace`, `full` unless `scope` says otherwise. */
  create(caller: Caller, namespace: string, label: string, scope?: TokenScope): Promise<IssuedToken>;
  list(caller: Caller): Promise<TokenRecord[]>;
  revoke(caller: Caller, tokenId: string): Promise<void>;
  /** Calls `onRevoked` when the token is revoked; returns an unsubscribe function. */
  watch(tokenId: string, onRevoked: () => void): () => void;
  /**
   * Another replica revoked `tokenId` (or, with no id, may have revoked any: after its bus
   * reconnected): what this one cached of such tokens is read again, and streams of a revoked
   * one end, as if revoked here.
   */
  recheck(tokenId?: string): Promise<void>;
}

export interface TokensOptions {
  store: TokenStore & UnitOfWork;
  log: Logger;
  now: () => Date;
  /** Told after a revocation here (replicas: announced to the others). */
  onRevoked?: (tokenId: string) => void;
}

/** What is stored of a token: its SHA-256, never the secret. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function newToken(): string {
  return `hapi_${randomBytes(32).toString('base64url')}`;
}

function newTokenId(): string {
  return `tok_${randomBytes(6).toString('hex')}`;
}

/** Who calls with a stored token. */
function callerOf(rec: TokenRecord): Caller {
  // The owner token is full whatever a row says: it manages every token.
  return { namespace: rec.namespace, owner: rec.owner, tokenId: rec.id, scope: rec.owner ? 'full' : rec.scope };
}

export function createTokens(opts: TokensOptions): Tokens {
  const { store, log, now } = opts;
  /** token hash -> caller; a revoked token is removed. */
  const cache = new Map<string, Caller>();
  /**
   * token hash -> its lookup under way: a herd of runners reconnecting at once with one token
   * (after a hub restart) costs the database one query, not one per stream.
   */
  const lookups = new Map<string, Promise<Caller>>();
  /** Counts revocations seen here: a lookup that overlapped one reads again before it is cached. */
  let revocations = 0;
  const watchers = new Map<string, Set<() => void>>();

  async function lookup(hash: string): Promise<Caller> {
    for (;;) {
      const seen = revocations;
      const rec = await store.findTokenByHash(hash);
      if (!rec || rec.revokedAt) throw new UnauthenticatedError();
      // A token revoked while it was being read may have been read before the revocation.
      if (seen !== revocations) continue;
      const caller = callerOf(rec);
      cache.set(hash, caller);
      return caller;
    }
  }

  /** Drops the token from the cache and ends its streams; returns how many there were. */
  function forget(tokenId: string): number {
    revocations++;
    for (const [hash, c] of cache) if (c.tokenId === tokenId) cache.delete(hash);
    const cbs = watchers.get(tokenId);
    watchers.delete(tokenId);
    for (const cb of cbs ?? []) cb();
    return cbs?.size ?? 0;
  }

  function requireOwner(caller: Caller): void {
    if (!caller.owner) throw new PermissionDeniedError('only the owner token can manage tokens');
  }

  async function insert(namespace: string, label: string, owner: boolean, scope: TokenScope): Promise<IssuedToken> {
    const token = newToken();
    const rec: TokenRecord = { id: newTokenId(), namespace, label, owner, scope, createdAt: now() };
    await store.transaction(async (tx) => {
      await tx.ensureNamespace(namespace);
      await tx.insertToken(rec, hashToken(token));
    });
    return { tokenId: rec.id, token, namespace, scope };
  }

  return {
    async authenticate(token) {
      if (!token) throw new UnauthenticatedError();
      const hash = hashToken(token);
      const cached = cache.get(hash);
      if (cached) return cached;
      let pending = lookups.get(hash);
      if (!pending) {
        pending = lookup(hash).finally(() => lookups.delete(hash));
        lookups.set(hash, pending);
      }
      return pending;
    },

    async authenticateTokenId(tokenId) {
      const rec = await store.getToken(tokenId);
      if (!rec || rec.revokedAt) throw new UnauthenticatedError();
      return callerOf(rec);
    },

    async bootstrapOwnerToken() {
      if ((await store.countOwnerTokens()) > 0) return undefined;
      // Another hub on the same database may be doing the same right now: the store inserts
      // only if no live owner token exists, and exactly one of us gets true.
      const token = newToken();
      const rec: TokenRecord = { id: newTokenId(), namespace: DEFAULT_NAMESPACE, label: 'owner', owner: true, scope: 'full', createdAt: now() };
      const created = await store.transaction(async (tx) => {
        await tx.ensureNamespace(DEFAULT_NAMESPACE);
        return tx.insertOwnerTokenOnce(rec, hashToken(token));
      });
      if (!created) return undefined;
      log.info({ tokenId: rec.id }, 'created the owner token');
      return { tokenId: rec.id, token, namespace: DEFAULT_NAMESPACE, scope: 'full' };
    },

    async create(caller, namespace, label, scope = 'full') {
      requireOwner(caller);
      if (!NAMESPACE_PATTERN.test(namespace)) {
        throw new InvalidArgumentError(`namespace must match ${NAMESPACE_PATTERN.source}, got ${JSON.stringify(namespace)}`);
      }
      if (label.length > 200) throw new InvalidArgumentError('label must be at most 200 characters');
      if (!TOKEN_SCOPES.includes(scope)) throw new InvalidArgumentError(`scope must be one of ${TOKEN_SCOPES.join(', ')}`);
      const t = await insert(namespace, label, false, scope);
      log.info({ tokenId: t.tokenId, namespace, scope }, 'token created');
      return t;
    },

    async list(caller) {
      requireOwner(caller);
      return store.listTokens();
    },

    async revoke(caller, tokenId) {
      requireOwner(caller);
      const rec = await store.getToken(tokenId);
      if (!rec || rec.revokedAt) throw new NotFoundError(`token ${tokenId} not found`);
      await store.revokeToken(tokenId, now());
      const open = forget(tokenId);
      log.info({ tokenId, openStreams: open }, 'token revoked');
      opts.onRevoked?.(tokenId);
    },

    async recheck(tokenId) {
      const ids = tokenId ? [tokenId] : [...new Set([...[...cache.values()].map((c) => c.tokenId), ...watchers.keys()])];
      for (const id of ids) {
        const rec = await store.getToken(id);
        if (rec && !rec.revokedAt) continue;
        const open = forget(id);
        log.info({ tokenId: id, openStreams: open }, 'token revoked on another replica');
      }
    },

    watch(tokenId, onRevoked) {
      let set = watchers.get(tokenId);
      if (!set) watchers.set(tokenId, (set = new Set()));
      set.add(onRevoked);
      return () => {
        set.delete(onRevoked);
        if (set.size === 0 && watchers.get(tokenId) === set) watchers.delete(tokenId);
      };
    },
  };
}
