import { describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from '../../shared/errors.js';
import { createTokens, hashToken } from './tokens.js';
import { caller, log, memoryStore, T0 } from './test-support.js';

function setup() {
  let t = T0.getTime();
  const store = memoryStore();
  const tokens = createTokens({ store, log, now: () => new Date(t) });
  return { store, tokens, advance: (ms: number) => (t += ms) };
}

describe('tokens', () => {
  it('creates the owner token once, in the default namespace, storing only its hash', () => {
    const { store, tokens } = setup();
    const first = tokens.bootstrapOwnerToken()!;
    expect(first.token).toMatch(/^hapi_[A-Za-z0-9_-]{43}$/);
    expect(first.namespace).toBe('default');
    expect(tokens.bootstrapOwnerToken()).toBeUndefined();
    expect(store.findTokenByHash(hashToken(first.token))).toMatchObject({ id: first.tokenId, owner: true, createdAt: T0 });
    expect(tokens.authenticate(first.token)).toEqual({ namespace: 'default', owner: true, tokenId: first.tokenId, scope: 'full' });
  });

  it('refuses a missing or unknown token without detail, and caches a known one by hash', () => {
    const { store, tokens } = setup();
    expect(() => tokens.authenticate(undefined)).toThrow(UnauthenticatedError);
    expect(() => tokens.authenticate('')).toThrow(UnauthenticatedError);
    expect(() => tokens.authenticate('hapi_nope')).toThrow(UnauthenticatedError);
    const { token } = tokens.bootstrapOwnerToken()!;
    const lookup = vi.spyOn(store, 'findTokenByHash');
    tokens.authenticate(token);
    tokens.authenticate(token);
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('lets only the owner create, list and revoke; checks namespace and label', () => {
    const { tokens, advance } = setup();
    const owner = tokens.authenticate(tokens.bootstrapOwnerToken()!.token);
    advance(1);
    expect(() => tokens.create(caller(), 'team', '')).toThrow(PermissionDeniedError);
    expect(() => tokens.list(caller())).toThrow(PermissionDeniedError);
    expect(() => tokens.revoke(caller(), 'tok_x')).toThrow(PermissionDeniedError);
    expect(() => tokens.create(owner, 'Bad Name', '')).toThrow(InvalidArgumentError);
    expect(() => tokens.create(owner, 'team', 'x'.repeat(201))).toThrow(InvalidArgumentError);
    const t = tokens.create(owner, 'team', 'ci');
    expect(tokens.authenticate(t.token)).toEqual({ namespace: 'team', owner: false, tokenId: t.tokenId, scope: 'full' });
    expect(tokens.authenticateTokenId(t.tokenId)).toEqual({ namespace: 'team', owner: false, tokenId: t.tokenId, scope: 'full' });
    expect(tokens.list(owner).map((r) => r.label)).toEqual(['owner', 'ci']);
  });

  it('makes read-only tokens on request: the scope is stored, listed and carried by every caller of the token', () => {
    const { tokens, advance } = setup();
    const owner = tokens.authenticate(tokens.bootstrapOwnerToken()!.token);
    advance(1);
    expect(() => tokens.create(owner, 'team', '', 'admin' as never)).toThrow(InvalidArgumentError);
    const t = tokens.create(owner, 'team', 'viewer', 'read-only');
    expect(t.scope).toBe('read-only');
    expect(tokens.authenticate(t.token)).toEqual({ namespace: 'team', owner: false, tokenId: t.tokenId, scope: 'read-only' });
    expect(tokens.authenticateTokenId(t.tokenId).scope).toBe('read-only');
    expect(tokens.list(owner).map((r) => [r.label, r.scope])).toEqual([['owner', 'full'], ['viewer', 'read-only']]);
    // A read-only caller is not the owner: it manages no tokens.
    expect(() => tokens.list(tokens.authenticate(t.token))).toThrow(PermissionDeniedError);
  });

  it('revocation takes effect at once: cache dropped, watchers told once, revokedAt from the clock', () => {
    const { store, tokens, advance } = setup();
    const owner = tokens.authenticate(tokens.bootstrapOwnerToken()!.token);
    const t = tokens.create(owner, 'team', '');
    tokens.authenticate(t.token);
    const a = vi.fn();
    const b = vi.fn();
    const c = vi.fn();
    tokens.watch(t.tokenId, a);
    const unwatchB = tokens.watch(t.tokenId, b);
    tokens.watch('tok_other', c);
    unwatchB();
    advance(5_000);
    tokens.revoke(owner, t.tokenId);
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).not.toHaveBeenCalled();
    expect(c).not.toHaveBeenCalled();
    expect(store.getToken(t.tokenId)?.revokedAt).toEqual(new Date(T0.getTime() + 5_000));
    expect(() => tokens.authenticate(t.token)).toThrow(UnauthenticatedError);
    expect(() => tokens.authenticateTokenId(t.tokenId)).toThrow(UnauthenticatedError);
    expect(() => tokens.revoke(owner, t.tokenId)).toThrow(NotFoundError);
    expect(() => tokens.revoke(owner, 'tok_unknown')).toThrow(NotFoundError);
    expect(a).toHaveBeenCalledTimes(1);
  });
});
