import { describe, expect, it } from 'vitest';
import { backoffDelay, createBackoff } from './backoff.js';

describe('hub link backoff', () => {
  const opts = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

  it('doubles from the initial delay up to the cap, with jitter in [half, full]', () => {
    const low = { ...opts, random: () => 0 };
    const high = { ...opts, random: () => 0.999999 };
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, low))).toEqual([250, 500, 1000, 2000]);
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, high))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(20, high)).toBe(30_000);
    expect(backoffDelay(1_000, low)).toBe(15_000);
  });

  it('resets only after a connection stayed up for the healthy period', () => {
    let now = 0;
    const b = createBackoff({ ...opts, random: () => 0.999999 }, () => now);
    expect([b.failed(), b.failed(), b.failed()]).toEqual([500, 1000, 2000]);
    b.connected();
    now += 10_000; // a short-lived connection does not reset
    expect(b.failed()).toBe(4000);
    b.connected();
    now += 60_000;
    expect(b.failed()).toBe(500);
    expect(b.attempt).toBe(1);
  });
});
