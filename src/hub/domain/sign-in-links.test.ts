import { describe, expect, it } from 'vitest';
import { createSignInLinks, signInUrl } from './sign-in-links.js';
import { memoryStore } from './test-support.js';

describe('one-time sign-in links', () => {
  it('redeem once, within the expiry, never by a guess; the URL carries the code in its fragment only', async () => {
    let t = 1_000;
    const store = memoryStore();
    const links = createSignInLinks({ store, ttlMs: 60_000, now: () => t });
    const a = await links.issue('tok_a');
    expect(a.code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a.expiresAt.getTime()).toBe(61_000);
    expect(await links.redeem('nope')).toBeUndefined();
    // Another hub on the same database (a replica) redeems it: once.
    const other = createSignInLinks({ store, now: () => t });
    expect(await other.redeem(a.code)).toBe('tok_a');
    expect(await links.redeem(a.code)).toBeUndefined();
    const b = await links.issue('tok_b');
    expect(await links.pending()).toBe(1);
    t += 60_000;
    expect(await links.redeem(b.code)).toBeUndefined();
    expect(await links.pending()).toBe(0);
    const url = signInUrl('https://hub.example.net:3738/', 'abc');
    expect(url).toBe('https://hub.example.net:3738/#sign-in=abc');
    expect(new URL(url).search).toBe('');
  });
});
