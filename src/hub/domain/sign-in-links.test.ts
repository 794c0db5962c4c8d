import { describe, expect, it } from 'vitest';
import { createSignInLinks, signInUrl } from './sign-in-links.js';

describe('one-time sign-in links', () => {
  it('redeem once, within the expiry, never by a guess; the URL carries the code in its fragment only', () => {
    let t = 1_000;
    const links = createSignInLinks({ ttlMs: 60_000, now: () => t });
    const a = links.issue('tok_a');
    expect(a.code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a.expiresAt.getTime()).toBe(61_000);
    expect(links.redeem('nope')).toBeUndefined();
    expect(links.redeem(a.code)).toBe('tok_a');
    expect(links.redeem(a.code)).toBeUndefined();
    const b = links.issue('tok_b');
    t += 60_000;
    expect(links.redeem(b.code)).toBeUndefined();
    expect(links.pending).toBe(0);
    const url = signInUrl('https://hub.example.net:3738/', 'abc');
    expect(url).toBe('https://hub.example.net:3738/#sign-in=abc');
    expect(new URL(url).search).toBe('');
  });
});
