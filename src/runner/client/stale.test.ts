import { existsSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../../shared/proc.js';
import { inspectAndCleanStale } from './stale.js';
import { createClientTestHome, deadPid, REUSED_START_TIME, type ClientTestHome } from './test-home.js';

let t: ClientTestHome;
afterEach(async () => {
  await t?.cleanup();
});

describe('stale runner detection and cleanup', () => {
  it('reports nothing when HAPI_HOME holds no runner files', async () => {
    t = createClientTestHome();
    expect(await inspectAndCleanStale(t.paths)).toEqual({ kind: 'none' });
  });

  it('removes the state, lock and socket files of a dead runner', async () => {
    t = createClientTestHome();
    const pid = deadPid();
    t.writeState(pid, 'gone');
    t.writeLock({ pid, startTime: 'gone' });
    await t.leaveDeadSocket();
    expect(existsSync(t.paths.socket)).toBe(true);
    const r = await inspectAndCleanStale(t.paths);
    expect(r).toEqual({ kind: 'stale-cleaned', pid, removed: [t.paths.stateFile, t.paths.lockFile, t.paths.socket] });
    for (const f of [t.paths.stateFile, t.paths.lockFile, t.paths.socket]) expect(existsSync(f)).toBe(false);
  });

  it('treats a PID that now belongs to another process (start time differs) as dead', async () => {
    t = createClientTestHome();
    // This test process is alive, but it is not the runner that wrote these files.
    t.writeState(process.pid, REUSED_START_TIME);
    t.writeLock({ pid: process.pid, startTime: REUSED_START_TIME });
    const r = await inspectAndCleanStale(t.paths);
    expect(r).toEqual({ kind: 'stale-cleaned', pid: process.pid, removed: [t.paths.stateFile, t.paths.lockFile] });
  });

  it('never touches the files of a live lock owner that does not answer', async () => {
    t = createClientTestHome();
    const child = t.spawnLiving();
    const startTime = processStartTime(child.pid!);
    t.writeState(child.pid!, startTime);
    t.writeLock({ pid: child.pid!, startTime });
    await t.leaveDeadSocket();
    expect(await inspectAndCleanStale(t.paths)).toEqual({ kind: 'alive-not-answering', pid: child.pid });
    for (const f of [t.paths.stateFile, t.paths.lockFile, t.paths.socket]) expect(existsSync(f)).toBe(true);
  });

  it('a live process named by the state file, with no lock, is a runner still starting or stopping', async () => {
    t = createClientTestHome();
    const child = t.spawnLiving();
    t.writeState(child.pid!);
    expect(await inspectAndCleanStale(t.paths)).toEqual({ kind: 'alive-not-answering', pid: child.pid });
    expect(existsSync(t.paths.stateFile)).toBe(true);
  });

  it('removes a corrupt state file and an unreadable lock, reporting no PID', async () => {
    t = createClientTestHome();
    writeFileSync(t.paths.stateFile, '{"pid": ');
    writeFileSync(t.paths.lockFile, 'garbage');
    const r = await inspectAndCleanStale(t.paths);
    expect(r).toEqual({ kind: 'stale-cleaned', pid: undefined, removed: [t.paths.stateFile, t.paths.lockFile] });
  });

  it('never unlinks a socket somebody still listens on', async () => {
    t = createClientTestHome();
    t.writeState(deadPid(), 'gone');
    await t.listenOnSocket();
    const r = await inspectAndCleanStale(t.paths);
    expect(r).toMatchObject({ kind: 'stale-cleaned', removed: [t.paths.stateFile] });
    expect(existsSync(t.paths.socket)).toBe(true);
  });
});
