import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CLI_VERSION, cliMtimeMs } from '../../shared/version.js';
import { createHandoff, isCurrentBuild, type LaunchedStart } from './handoff.js';

const log = pino({ level: 'silent' });

class FakeStart extends EventEmitter {
  unref(): void {}
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.emit('exit', code, signal);
  }
}

function setup(opts: { minBackoffMs?: number; maxBackoffMs?: number } = {}) {
  let mtime = 100;
  let now = 0;
  const launched: { argv: string[]; outputFile: string; child: FakeStart }[] = [];
  const handoff = createHandoff({
    cliPath: '/opt/hapi/hapi.cjs',
    startMtimeMs: 100,
    startArgs: ['--workspace-root', '/w'],
    outputFile: '/tmp/runner-x.handoff.log',
    log,
    minBackoffMs: opts.minBackoffMs ?? 1_000,
    maxBackoffMs: opts.maxBackoffMs ?? 4_000,
    readMtime: () => mtime,
    now: () => now,
    // The low edge of the backoff's jitter: half the nominal delay.
    random: () => 0,
    launch: (argv, outputFile) => {
      const child = new FakeStart();
      launched.push({ argv, outputFile, child });
      return child as LaunchedStart;
    },
  });
  return {
    handoff,
    launched,
    setMtime: (m: number) => (mtime = m),
    advance: (ms: number) => (now += ms),
  };
}

describe('version hand-off', () => {
  it('does nothing while the CLI file is unchanged', () => {
    const t = setup();
    expect(t.handoff.checkCliVersion()).toBe('unchanged');
    expect(t.launched).toEqual([]);
  });

  it('launches `runner start` with the new CLI and the same flags when the mtime changed', () => {
    const t = setup();
    t.setMtime(200);
    expect(t.handoff.checkCliVersion()).toBe('launched');
    expect(t.launched.map((l) => [l.argv, l.outputFile])).toEqual([
      [['/opt/hapi/hapi.cjs', 'runner', 'start', '--handoff-from', String(process.pid), '--workspace-root', '/w'], '/tmp/runner-x.handoff.log'],
    ]);
    expect(t.handoff.inProgress()).toBe(true);
  });

  it('never launches a second one while the first runs', () => {
    const t = setup();
    t.setMtime(200);
    t.handoff.checkCliVersion();
    expect(t.handoff.checkCliVersion()).toBe('in-progress');
    expect(t.launched).toHaveLength(1);
  });

  it('retries a failed hand-off with exponential backoff, capped (shared/backoff.ts, jitter at its low edge)', () => {
    const t = setup({ minBackoffMs: 1_000, maxBackoffMs: 3_000 });
    t.setMtime(200);
    t.handoff.checkCliVersion();
    t.launched[0]!.child.exit(1);
    expect(t.handoff.inProgress()).toBe(false);
    // 1st failure: nominal 1 s, half of it with the jitter at 0.
    t.advance(499);
    expect(t.handoff.checkCliVersion()).toBe('retry-pending');
    t.advance(1);
    expect(t.handoff.checkCliVersion()).toBe('launched');
    t.launched[1]!.child.exit(null, 'SIGKILL');
    // 2nd failure: nominal 2 s.
    t.advance(999);
    expect(t.handoff.checkCliVersion()).toBe('retry-pending');
    t.advance(1);
    expect(t.handoff.checkCliVersion()).toBe('launched');
    t.launched[2]!.child.exit(1);
    // 3rd failure: nominal 4 s, capped at 3 s.
    t.advance(1_499);
    expect(t.handoff.checkCliVersion()).toBe('retry-pending');
    t.advance(1);
    expect(t.handoff.checkCliVersion()).toBe('launched');
    expect(t.launched).toHaveLength(4);
  });

  it('a hand-off command that succeeded leaves no backoff behind', () => {
    const t = setup();
    t.setMtime(200);
    t.handoff.checkCliVersion();
    t.launched[0]!.child.exit(0);
    // The new runner stops this one; should it still be here at the next beat, it tries again.
    expect(t.handoff.checkCliVersion()).toBe('launched');
  });
});

describe('isCurrentBuild (what the launched `runner start` applies)', () => {
  it('is true only for the same CLI version and CLI file mtime', () => {
    const mtime = cliMtimeMs();
    expect(isCurrentBuild({ cliVersion: CLI_VERSION, cliMtimeMs: mtime })).toBe(true);
    expect(isCurrentBuild({ cliVersion: `${CLI_VERSION}-other`, cliMtimeMs: mtime })).toBe(false);
    expect(isCurrentBuild({ cliVersion: CLI_VERSION, cliMtimeMs: mtime + 1 })).toBe(false);
  });
});
