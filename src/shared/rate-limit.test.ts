import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('rate limiter', () => {
  it('allows a burst, then one action per interval, and says how long to wait', () => {
    const c = clock();
    const l = createRateLimiter({ burst: 3, intervalMs: 1000, now: c.now });
    expect([l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 0]);
    expect(l.take('a')).toBe(1000);
    c.advance(400);
    expect(l.take('a')).toBe(600);
    c.advance(600);
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBe(1000);
    // Refused tries cost nothing: waiting the time it said is enough.
    for (let i = 0; i < 50; i++) l.take('a');
    c.advance(1000);
    expect(l.take('a')).toBe(0);
  });

  it('refills up to the burst only, and keeps keys apart', () => {
    const c = clock();
    const l = createRateLimiter({ burst: 2, intervalMs: 1000, now: c.now });
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBeGreaterThan(0);
    expect(l.take('b')).toBe(0);
    c.advance(1_000_000);
    expect([l.take('a'), l.take('a'), l.take('a') > 0]).toEqual([0, 0, true]);
  });

  it('remembers at most maxKeys keys, forgetting the least recently used', () => {
    const c = clock();
    const l = createRateLimiter({ burst: 1, intervalMs: 60_000, maxKeys: 3, now: c.now });
    for (const k of ['a', 'b', 'c']) expect(l.take(k)).toBe(0);
    expect(l.take('a')).toBeGreaterThan(0); // a is now the most recent
    expect(l.take('d')).toBe(0); // forgets b
    expect(l.size()).toBe(3);
    expect(l.take('a')).toBeGreaterThan(0);
    expect(l.take('c')).toBeGreaterThan(0);
    expect(l.take('b')).toBe(0); // forgotten, so it starts afresh
  });

  it('refuses a limit that allows nothing', () => {
    expect(() => createRateLimiter({ burst: 0, intervalMs: 1000 })).toThrow(RangeError);
    expect(() => createRateLimiter({ burst: 1, intervalMs: 0 })).toThrow(RangeError);
  });
});
