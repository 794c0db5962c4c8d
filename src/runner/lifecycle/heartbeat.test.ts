import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SessionInfo } from '../../contract/types.js';
import { createHandoff, type LaunchedStart } from './handoff.js';
import { startHeartbeat, type HeartbeatDeps } from './heartbeat.js';
import { newRunnerState, readStateFile, writeOwnStateFile, writeStateFile, type OwnStateFile } from './state-file.js';

const log = pino({ level: 'silent' });

/** Fakes that record each step in `calls`, in the order the heartbeat runs them. */
function fakes(opts: { dead?: string[]; otherOwner?: number } = {}) {
  const calls: string[] = [];
  const superseded: number[] = [];
  const beats: Date[] = [];
  const stateFile: OwnStateFile = {
    otherOwner: () => (calls.push('owner'), opts.otherOwner),
    recordHeartbeat: (at) => (calls.push('write'), beats.push(at)),
  };
  const deps: HeartbeatDeps = {
    sessions: { pruneDead: () => (calls.push('prune'), (opts.dead ?? []).map((id) => ({ id }) as SessionInfo)) },
    handoff: { checkCliVersion: () => (calls.push('version'), 'unchanged') },
    stateFile,
    onSuperseded: (pid) => superseded.push(pid),
    log,
    now: () => new Date(1_000),
  };
  return { deps, calls, superseded, beats };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('heartbeat', () => {
  it('runs the four documented steps in order: prune, version, ownership, write', async () => {
    const f = fakes({ dead: ['s1'] });
    const hb = startHeartbeat(60_000, f.deps);
    await hb.beatNow();
    hb.stop();
    expect(f.calls).toEqual(['prune', 'version', 'owner', 'write']);
    expect(f.beats).toEqual([new Date(1_000)]);
    expect(hb.lastBeat()).toEqual(new Date(1_000));
  });

  it('stops after step 3 when another runner owns the state file, and does not write', async () => {
    const f = fakes({ otherOwner: 4242 });
    const hb = startHeartbeat(60_000, f.deps);
    await hb.beatNow();
    hb.stop();
    expect(f.calls).toEqual(['prune', 'version', 'owner']);
    expect(f.superseded).toEqual([4242]);
    expect(hb.lastBeat()).toBeUndefined();
  });

  it('never runs two beats at once: a beat due while one runs is skipped', async () => {
    const f = fakes();
    const hb = startHeartbeat(60_000, f.deps);
    const first = hb.beatNow();
    const second = hb.beatNow(); // due while the first is still in flight
    expect(second).toBe(first);
    await Promise.all([first, second]);
    hb.stop();
    expect(f.calls).toEqual(['prune', 'version', 'owner', 'write']);
  });

  it('beats every interval until stopped', async () => {
    vi.useFakeTimers();
    const f = fakes();
    const hb = startHeartbeat(100, f.deps);
    await vi.advanceTimersByTimeAsync(99);
    expect(f.beats).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(201);
    expect(f.beats).toHaveLength(3);
    hb.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(f.beats).toHaveLength(3);
  });

  it('survives a failing step: the error is logged and the next beat runs', async () => {
    const f = fakes();
    let fail = true;
    f.deps.sessions = {
      pruneDead: () => {
        f.calls.push('prune');
        if (fail) throw new Error('boom');
        return [];
      },
    };
    const hb = startHeartbeat(60_000, f.deps);
    await hb.beatNow();
    fail = false;
    await hb.beatNow();
    hb.stop();
    expect(f.calls).toEqual(['prune', 'prune', 'version', 'owner', 'write']);
  });
});

describe('heartbeat with the real state file and hand-off', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function setup() {
    dir = mkdtempSync(join(tmpdir(), 'hapi-heartbeat-'));
    const path = join(dir, 'runner.state.json');
    const state = newRunnerState({
      pid: process.pid,
      httpPort: 1234,
      startedAt: new Date(0),
      cliVersion: '1.0.0',
      cliPath: '/opt/hapi/hapi.cjs',
      cliMtimeMs: 100,
      runnerLogPath: join(dir, 'runner.log'),
      socketPath: join(dir, 'runner.sock'),
      controlToken: 't',
    });
    const stateFile = writeOwnStateFile(path, state);
    let mtime = 100;
    const launched: string[][] = [];
    const handoff = createHandoff({
      cliPath: '/opt/hapi/hapi.cjs',
      startMtimeMs: 100,
      startArgs: [],
      outputFile: join(dir, 'handoff.log'),
      log,
      readMtime: () => mtime,
      launch: (argv) => {
        launched.push(argv);
        return Object.assign(new EventEmitter(), { unref: () => undefined }) as unknown as LaunchedStart;
      },
    });
    const superseded: number[] = [];
    const hb = startHeartbeat(60_000, {
      sessions: { pruneDead: () => [] },
      handoff,
      stateFile,
      onSuperseded: (pid) => superseded.push(pid),
      log,
      now: () => new Date(2026, 0, 2, 3, 4, 5),
    });
    return { path, state, hb, launched, superseded, setMtime: (m: number) => (mtime = m) };
  }

  it('writes lastHeartbeat in the documented format', async () => {
    const t = setup();
    await t.hb.beatNow();
    t.hb.stop();
    const read = readStateFile(t.path);
    expect(read.kind === 'ok' && read.state.lastHeartbeat).toBe('1/2/2026, 3:04:05 AM');
    expect(t.launched).toEqual([]);
  });

  it('hands off when the CLI file mtime changed, and still writes the heartbeat', async () => {
    const t = setup();
    t.setMtime(200);
    await t.hb.beatNow();
    t.hb.stop();
    expect(t.launched).toEqual([['/opt/hapi/hapi.cjs', 'runner', 'start', '--handoff-from', String(process.pid)]]);
    expect(t.hb.lastBeat()).toBeDefined();
  });

  it('is superseded when another runner wrote the state file, and leaves that file alone', async () => {
    const t = setup();
    const other = { ...t.state, pid: t.state.pid + 1 };
    writeStateFile(t.path, other);
    await t.hb.beatNow();
    t.hb.stop();
    expect(t.superseded).toEqual([other.pid]);
    const read = readStateFile(t.path);
    expect(read.kind === 'ok' && read.state.pid).toBe(other.pid);
  });

  it('a missing state file is not another owner: the beat writes it back', async () => {
    const t = setup();
    rmSync(t.path);
    await t.hb.beatNow();
    t.hb.stop();
    expect(t.superseded).toEqual([]);
    expect(readStateFile(t.path).kind).toBe('ok');
  });
});
