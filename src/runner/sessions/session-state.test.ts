import { describe, expect, it } from 'vitest';
import { RECENT_ENDED_LIMIT, remember } from './session-state.js';

describe('remember', () => {
  it('keeps the newest RECENT_ENDED_LIMIT entries; writing a key again makes it the newest', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < RECENT_ENDED_LIMIT; i++) remember(map, `k${i}`, i);
    remember(map, 'k0', -1); // refreshed: k1 is now the oldest
    remember(map, 'new', 1);
    expect(map.size).toBe(RECENT_ENDED_LIMIT);
    expect(map.has('k1')).toBe(false);
    expect(map.get('k0')).toBe(-1);
    expect([...map.keys()].slice(-2)).toEqual(['k0', 'new']);
  });
});
