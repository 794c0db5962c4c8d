import { describe, expect, it } from 'vitest';
import { createHubAddresses, tryOrder } from './hub-addresses.js';

describe('hub addresses', () => {
  it('tries the first address first, then every other once per round, in an order of its own', () => {
    expect(tryOrder(1)).toEqual([0]);
    for (let n = 2; n <= 5; n++) {
      const o = tryOrder(n);
      expect(o[0]).toBe(0);
      expect([...o].sort()).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    // Runners with other random draws go on to other replicas when their first one dies.
    const seconds = new Set([0, 0.5, 0.99].map((r) => tryOrder(3, () => r)[1]));
    expect(seconds).toEqual(new Set([1, 2]));
  });

  it('moves along its order and back to the first', () => {
    const urls = ['http://a:1', 'http://b:1', 'http://c:1'];
    const addresses = createHubAddresses(urls, undefined, () => 0);
    const seen = [addresses.url];
    for (let i = 0; i < 3; i++) {
      addresses.moveOn();
      seen.push(addresses.url);
    }
    expect(seen[0]).toBe('http://a:1');
    expect(new Set(seen.slice(0, 3))).toEqual(new Set(urls));
    expect(seen[3]).toBe('http://a:1');
    addresses.close();
  });
});
