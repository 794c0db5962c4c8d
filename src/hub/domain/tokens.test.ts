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
  it('creates the owner token once, in the default namespace, storing only its hash', async () => {
    const { store, tokens } = setup();
    const first = (await tokens.bootstrapOwnerToken())!;
    expect(first.token).toMatch(/^hapi_[A-Za-z0-9_-]{43}$/);
    expect(first.namespace).toBe('default');
    expect(await tokens.bootstrapOwnerToken()).toBeUndefined();
    expect(await store.findTokenByHash(hashToken(first.token))).toMatchObject({ id: first.tokenId, owner: true, createdAt: T0 });
    expect(await tokens.authenticate(first.token)).toEqual({ namespace: 'default', owner: true, tokenId: first.tokenId, scope: 'full' });
  });

  it('refuses a missing or unknown token without detail, and caches a known one by hash', async () => {
    const { store, tokens } = setup();
    await expect(tokens.authenticate(undefined)).rejects.toThrow(UnauthenticatedError);
    await expect(tokens.authenticate('')).rejects.toThrow(UnauthenticatedError);
    await expect(tokens.authenticate('hapi_nope')).rejects.toThrow(UnauthenticatedError);
    const { token } = (await tokens.bootstrapOwnerToken())!;
    const lookup = vi.spyOn(store, 'findTokenByHash');
    await tokens.authenticate(token);
    await tokens.authenticate(token);
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('looks a token up once for a herd of callers presenting it together, and not again once cached', async () => {
    const { store, tokens } = setup();
    const { token, tokenId } = (await tokens.bootstrapOwnerToken())!;
    const lookup = vi.spyOn(store, 'findTokenByHash');
    const callers = await Promise.all(Array.from({ length: 50 }, () => tokens.authenticate(token)));
    expect(new Set(callers.map((c) => c.tokenId))).toEqual(new Set([tokenId]));
    expect(lookup).toHaveBeenCalledTimes(1);
    // Unknown tokens are not cached: each herd asks again, all its callers refused.
    const refused = await Promise.allSettled(Array.from({ length: 5 }, () => tokens.authenticate('hapi_nope')));
    expect(refused.every((r) => r.status === 'rejected' && r.reason instanceof UnauthenticatedError)).toBe(true);
    expect(lookup).toHaveBeenCalledTimes(2);
    await expect(tokens.authenticate('hapi_nope')).rejects.toThrow(UnauthenticatedError);
    expect(lookup).toHaveBeenCalledTimes(3);
  });

  it('reads a token again when it was revoked while being looked up, so a revoked token is never cached', async () => {
    const { store, tokens } = setup();
    const owner = await tokens.authenticate((await tokens.bootstrapOwnerToken())!.token);
    const t = await tokens.create(owner, 'team', 'ci');
    const read = store.findTokenByHash.bind(store);
    let first = true;
    vi.spyOn(store, 'findTokenByHash').mockImplementation(async (hash) => {
      const rec = await read(hash);
      if (first) {
        // The revocation lands after this read and before the lookup caches it.
        first = false;
        await tokens.revoke(owner, t.tokenId);
      }
      return rec;
    });
    await expect(tokens.authenticate(t.token)).rejects.toThrow(UnauthenticatedError);
    await expect(tokens.authenticate(t.token)).rejects.toThrow(UnauthenticatedError);
  });

  it('lets only the owner create, list and revoke; checks namespace and label', async () => {
    const { tokens, advance } = setup();
    const owner = await tokens.authenticate((await tokens.bootstrapOwnerToken())!.token);
    advance(1);
    await expect(tokens.create(caller(), 'team', '')).rejects.toThrow(PermissionDeniedError);
    await expect(tokens.list(caller())).rejects.toThrow(PermissionDeniedError);
    await expect(tokens.revoke(caller(), 'tok_x')).rejects.toThrow(PermissionDeniedError);
    await expect(tokens.create(owner, 'Bad Name', '')).rejects.toThrow(InvalidArgumentError);
    await expect(tokens.create(owner, 'team', 'x'.repeat(201))).rejects.toThrow(InvalidArgumentError);
    const t = await tokens.create(owner, 'team', 'ci');
    expect(await tokens.authenticate(t.token)).toEqual({ namespace: 'team', owner: false, tokenId: t.tokenId, scope: 'full' });
    expect(await tokens.authenticateTokenId(t.tokenId)).toEqual({ namespace: 'team', owner: false, tokenId: t.tokenId, scope: 'full' });
    expect((await tokens.list(owner)).map((r) => r.label)).toEqual(['owner', 'ci']);
  });

  it('makes read-only tokens on request: the scope is stored, listed and carried by every caller of the token', async () => {
    const { tokens, advance } = setup();
    const owner = await tokens.authenticate((await tokens.bootstrapOwnerToken())!.token);
    advance(1);
    await expect(tokens.create(owner, 'team', '', 'admin' as never)).rejects.toThrow(InvalidArgumentError);
    const t = await tokens.create(owner, 'team', 'viewer', 'read-only');
    expect(t.scope).toBe('read-only');
    expect(await tokens.authenticate(t.token)).toEqual({ namespace: 'team', owner: false, tokenId: t.tokenId, scope: 'read-only' });
    expect((await tokens.authenticateTokenId(t.tokenId)).scope).toBe('read-only');
    expect((await tokens.list(owner)).map((r) => [r.label, r.scope])).toEqual([['owner', 'full'], ['viewer', 'read-only']]);
    // A read-only caller is not the owner: it manages no tokens.
    await expect(tokens.list(await tokens.authenticate(t.token))).rejects.toThrow(PermissionDeniedError);
  });

  it('revocation takes effect at once: cache dropped, watchers told once, revokedAt from the clock', async () => {
    const { store, tokens, advance } = setup();
    const owner = await tokens.authenticate((await tokens.bootstrapOwnerToken())!.token);
    const t = await tokens.create(owner, 'team', '');
    await tokens.authenticate(t.token);
    const a = vi.fn();
    const b = vi.fn();
    const c = vi.fn();
    tokens.watch(t.tokenId, a);
    const unwatchB = tokens.watch(t.tokenId, b);
    tokens.watch('tok_other', c);
    unwatchB();
    advance(5_000);
    await tokens.revoke(owner, t.tokenId);
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).not.toHaveBeenCalled();
    expect(c).not.toHaveBeenCalled();
    expect((await store.getToken(t.tokenId))?.revokedAt).toEqual(new Date(T0.getTime() + 5_000));
    await expect(tokens.authenticate(t.token)).rejects.toThrow(UnauthenticatedError);
    await expect(tokens.authenticateTokenId(t.tokenId)).rejects.toThrow(UnauthenticatedError);
    await expect(tokens.revoke(owner, t.tokenId)).rejects.toThrow(NotFoundError);
    await expect(tokens.revoke(owner, 'tok_unknown')).rejects.toThrow(NotFoundError);
    expect(a).toHaveBeenCalledTimes(1);
  });
});
