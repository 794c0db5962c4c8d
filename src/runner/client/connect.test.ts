import { afterEach, describe, expect, it } from 'vitest';
import { isHapiError } from '../../shared/errors.js';
import { connectRunner, NOT_RUNNING_HINT, probeRunner } from './connect.js';
import { createClientTestHome, type ClientTestHome } from './test-home.js';

let t: ClientTestHome;
afterEach(async () => {
  await t?.cleanup();
});

describe('connecting to the runner', () => {
  it('without a socket file, says the runner is not running and how to start it', () => {
    t = createClientTestHome();
    let err: unknown;
    try {
      connectRunner({ env: t.env });
    } catch (e) {
      err = e;
    }
    expect(isHapiError(err)).toBe(true);
    expect(err).toMatchObject({ kind: 'Unavailable', message: NOT_RUNNING_HINT });
  });

  it('probe: no runner when there is no socket file', async () => {
    t = createClientTestHome();
    expect(await probeRunner(t.paths, 1_000)).toBeUndefined();
  });

  it('probe: no runner when the socket file is left by a dead one (connection refused)', async () => {
    t = createClientTestHome();
    await t.leaveDeadSocket();
    expect(await probeRunner(t.paths, 1_000)).toBeUndefined();
  });

  it('a call on a dead socket fails as Unavailable with the hint, not as a transport error', async () => {
    t = createClientTestHome();
    await t.leaveDeadSocket();
    const conn = connectRunner({ env: t.env, timeoutMs: 1_000 });
    try {
      await expect(conn.call((c, signal) => c.getStatus({}, { signal }))).rejects.toMatchObject({ kind: 'Unavailable', message: NOT_RUNNING_HINT });
    } finally {
      conn.close();
    }
  });
});
