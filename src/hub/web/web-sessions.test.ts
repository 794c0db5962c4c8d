import { describe, expect, it } from 'vitest';
import { createWebSessionStore, secretsEqual } from './web-sessions.js';

const token = (t: string) => ({ kind: 'token' as const, token: t });

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('web session store', () => {
  it('creates unguessable ids and CSRF tokens, and finds sessions only by their exact id', () => {
    const store = createWebSessionStore();
    const a = store.create(token('ta'));
    const b = store.create(token('tb'));
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set([a.id, b.id, a.csrfToken, b.csrfToken]).size).toBe(4);
    expect(store.get(a.id)?.credential).toEqual(token('ta'));
    expect(store.get(a.csrfToken)).toBeUndefined();
    expect(store.get(`${a.id.slice(0, -1)}${a.id.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(store.get(undefined)).toBeUndefined();
    expect(store.get('')).toBeUndefined();
  });

  it('ends a session after the idle timeout, and use keeps it alive', () => {
    const c = clock();
    const store = createWebSessionStore({ idleTimeoutMs: 1000, maxLifetimeMs: 10_000, now: c.now });
    const s = store.create(token('t'));
    c.advance(900);
    expect(store.get(s.id)).toBeDefined();
    c.advance(900);
    expect(store.get(s.id)).toBeDefined();
    c.advance(1001);
    expect(store.get(s.id)).toBeUndefined();
    expect(store.size()).toBe(0);
  });

  it('ends a session after its maximum lifetime however much it is used', () => {
    const c = clock();
    const store = createWebSessionStore({ idleTimeoutMs: 1000, maxLifetimeMs: 2500, now: c.now });
    const s = store.create(token('t'));
    for (let i = 0; i < 5; i++) {
      c.advance(500);
      expect(store.get(s.id)).toBeDefined();
    }
    c.advance(600);
    expect(store.get(s.id)).toBeUndefined();
  });

  it('drops the least recently used session when full, and reports every end', () => {
    const ended: string[] = [];
    const store = createWebSessionStore({ maxSessions: 2 });
    store.onEnd((id) => ended.push(id));
    const a = store.create(token('a'));
    const b = store.create(token('b'));
    store.get(a.id); // a is now more recently used than b
    const c = store.create(token('c'));
    expect(ended).toEqual([b.id]);
    expect(store.get(b.id)).toBeUndefined();
    expect(store.get(a.id)).toBeDefined();
    store.delete(c.id);
    store.delete(c.id);
    expect(ended).toEqual([b.id, c.id]);
  });
});

describe('secretsEqual', () => {
  it('compares exactly', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abd')).toBe(false);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
    expect(secretsEqual('', 'a')).toBe(false);
  });
});
