import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startRunner } from './start.js';
import { createClientTestHome, deadPid, type ClientTestHome } from './test-home.js';

let t: ClientTestHome;
afterEach(async () => {
  await t?.cleanup();
});

describe('hapi runner start, launched by a version hand-off', () => {
  it('starts nothing when the runner that asked for the hand-off was stopped meanwhile (the stop stands)', async () => {
    t = createClientTestHome();
    const gone = deadPid();
    // What `hapi runner stop` leaves: no runner, no lock, no socket (and a dead one's state is cleaned).
    await expect(startRunner({ env: t.env, handoffFrom: gone })).rejects.toMatchObject({
      kind: 'FailedPrecondition',
      message: `runner PID ${gone}, which asked for this hand-off, was stopped meanwhile: not starting another (the stop stands)`,
    });
    for (const f of [t.paths.lockFile, t.paths.socket, t.paths.stateFile]) expect(existsSync(f)).toBe(false);
  });
});
