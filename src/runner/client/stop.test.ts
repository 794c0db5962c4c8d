import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../../shared/proc.js';
import { stopRunnerProcess } from './stop.js';
import { createClientTestHome, deadPid, type ClientTestHome } from './test-home.js';

let t: ClientTestHome;
afterEach(async () => {
  await t?.cleanup();
});

describe('hapi runner stop, without a runner answering', () => {
  it('says the runner is not running when there is nothing', async () => {
    t = createClientTestHome();
    await expect(stopRunnerProcess({ env: t.env })).rejects.toMatchObject({ kind: 'Unavailable', message: 'runner is not running' });
  });

  it('cleans up after a dead runner and says so', async () => {
    t = createClientTestHome();
    const pid = deadPid();
    t.writeState(pid, 'gone');
    t.writeLock({ pid, startTime: 'gone' });
    await t.leaveDeadSocket();
    await expect(stopRunnerProcess({ env: t.env })).rejects.toMatchObject({
      kind: 'Unavailable',
      message: `runner is not running (removed stale files of dead runner PID ${pid})`,
    });
    for (const f of [t.paths.stateFile, t.paths.lockFile, t.paths.socket]) expect(existsSync(f)).toBe(false);
  });

  it('stops a live lock owner that does not answer with SIGTERM, then removes its files', async () => {
    t = createClientTestHome();
    const child = t.spawnLiving();
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const startTime = processStartTime(child.pid!);
    t.writeState(child.pid!, startTime);
    t.writeLock({ pid: child.pid!, startTime });
    expect(await stopRunnerProcess({ env: t.env })).toEqual({ pid: child.pid, how: 'sigterm' });
    expect(await exited).toBe('SIGTERM');
    expect(existsSync(t.paths.stateFile)).toBe(false);
    expect(existsSync(t.paths.lockFile)).toBe(false);
  });
});
