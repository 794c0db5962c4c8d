import { describe, expect, it } from 'vitest';
import { SESSION_PROCESS_ENV, sessionProcessEnv, withoutSessionProcessEnv } from './node-flags.js';

describe('session process environment', () => {
  it('adds what the session process runs with, and the agent gets the environment it would have had', () => {
    const env = { PATH: '/bin', HOME: '/h' };
    const session = sessionProcessEnv(env);
    expect(session).toMatchObject({ ...env, ...SESSION_PROCESS_ENV });
    const agent = withoutSessionProcessEnv(session);
    expect(Object.fromEntries(Object.entries(agent).filter(([, v]) => v !== undefined))).toEqual(env);
  });

  it("leaves a variable the person set as it is, for the session and for the agent", () => {
    const env = { PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072' };
    const session = sessionProcessEnv(env);
    expect(session.MALLOC_MMAP_THRESHOLD_).toBe('131072');
    expect(withoutSessionProcessEnv(session).MALLOC_MMAP_THRESHOLD_).toBe('131072');
  });
});
