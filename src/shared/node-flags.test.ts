import { describe, expect, it } from 'vitest';
import { SESSION_GLIBC_TUNABLES, sessionProcessEnv, withoutSessionTunables } from './node-flags.js';

describe('session process malloc setting', () => {
  it('is added for the session process and taken off again for its agent, keeping the person\'s own', () => {
    expect(sessionProcessEnv({ A: '1' })).toEqual({ A: '1', GLIBC_TUNABLES: SESSION_GLIBC_TUNABLES });
    expect(withoutSessionTunables(sessionProcessEnv({ A: '1' }))).toEqual({ A: '1' });
    const own = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' };
    expect(sessionProcessEnv(own).GLIBC_TUNABLES).toBe(`glibc.malloc.arena_max=2:${SESSION_GLIBC_TUNABLES}`);
    expect(withoutSessionTunables(sessionProcessEnv(own))).toEqual(own);
    // A threshold of the person's own wins, and stays for the agent.
    const threshold = { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' };
    expect(sessionProcessEnv(threshold)).toBe(threshold);
    expect(withoutSessionTunables(threshold)).toBe(threshold);
  });
});
