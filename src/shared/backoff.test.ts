import { describe, expect, it } from 'vitest';
import { backoffDelay, createBackoff } from './backoff.js';

describe('backoff', () => {
  const opts = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

  it('doubles from the initial delay up to the cap, with jitter in [half, full]', () => {
    const low = { ...opts, random: () => 0 };
    const high = { ...opts, random: () => 0.999999 };
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, low))).toEqual([250, 500, 1000, 2000]);
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, high))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(20, high)).toBe(30_000);
    expect(backoffDelay(1_000, low)).toBe(15_000);
  });

  it('resets only after a success lasted for the healthy period', () => {
    let now = 0;
    const b = createBackoff({ ...opts, random: () => 0.999999, now: () => now });
    expect([b.failed(), b.failed(), b.failed()]).toEqual([500, 1000, 2000]);
    b.succeeded();
    now += 10_000; // a short-lived connection does not reset
    expect(b.failed()).toBe(4000);
    b.succeeded();
    now += 60_000;
    expect(b.failed()).toBe(500);
    expect(b.attempt).toBe(1);
  });

  it('without a healthy period, only reset() starts over', () => {
    let now = 0;
    const b = createBackoff({ initialMs: 25, maxMs: 250, random: () => 0.999999, now: () => now });
    expect([b.failed(), b.failed(), b.failed(), b.failed(), b.failed()]).toEqual([25, 50, 100, 200, 250]);
    b.succeeded();
    now += 1e9;
    expect(b.failed()).toBe(250);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.failed()).toBe(25);
  });

  it('uses the injected random source for the jittered half', () => {
    const b = createBackoff({ initialMs: 1_000, maxMs: 1_000, random: () => 0.5 });
    expect(b.failed()).toBe(750);
  });
});
