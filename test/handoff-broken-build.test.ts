// Issue 10 item 4: a hand-off to a build that cannot start must never leave sessions without a
// runner. The runner runs from a private copy of the built CLI; the copy is replaced by a broken
// build (its lazy daemon bundle throws on import) and its mtime bumped, so the heartbeat hands
// off: the new runner fails its self-check, the old runner is never stopped, keeps serving and
// logs why, and retries with backoff; once the good build is back, the hand-off completes and the
// new runner re-adopts the same sessions. Real processes, a temporary HAPI_HOME, all cleaned up.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'nice-grpc';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { processStartTime } from '../src/shared/proc.js';
import { FIXTURE_AGENT, REPO_ROOT, cleanupAllHomes, copyBuild, createTestHome, isAlive, processesOfHome, waitFor, type TestHome } from './harness.js';

let th: TestHome | undefined;
afterEach(async () => {
  await th?.cleanup();
  th = undefined;
});
afterAll(cleanupAllHomes);

interface Listed {
  sessionId: string;
  pid: number;
}

function runnerPids(home: string): number[] {
  return processesOfHome(home).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-sync');
    } catch {
      return false;
    }
  });
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('hand-off to a build that cannot start', () => {
  it('keeps the old runner serving, logs why, retries with backoff, and completes once the build is repaired', async () => {
    const t = (th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}`, HAPI_RUNNER_HEARTBEAT_INTERVAL: '300' }));
    const cli = copyBuild(t.home);
    const copy = join(t.home, 'cli');
    const run = (args: string[]) => t.cli(args, { cliPath: cli });
    const list = async (): Promise<Listed[]> => {
      const r = await run(['runner', 'list', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).sessions as Listed[];
    };

    const started = await run(['runner', 'start']);
    expect(started.code, started.stderr).toBe(0);
    const first = t.state()!;
    const channel = createUdsChannel(first.socketPath);
    const client = createClient(RunnerServiceDefinition, channel);
    const sessions: { id: string; pid: number; startTime: string }[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const r = await client.spawnSession({
          spec: { directory: t.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] },
        });
        const s = r.outcome!.result!.$case === 'session' ? r.outcome!.result!.value : undefined;
        sessions.push({ id: s!.id, pid: s!.pid, startTime: processStartTime(s!.pid)! });
      }
    } finally {
      channel.close();
    }
    const same = (listed: Listed[]) => {
      expect(listed.map((l) => l.sessionId).sort()).toEqual(sessions.map((s) => s.id).sort());
      for (const s of sessions) {
        expect(listed.find((l) => l.sessionId === s.id)?.pid).toBe(s.pid);
        expect(processStartTime(s.pid)).toBe(s.startTime);
      }
    };

    // An "upgrade" to a broken build: the daemon's lazy bundle throws on import.
    const daemonChunk = join(copy, 'lazy', 'runner-daemon.mjs');
    writeFileSync(daemonChunk, `throw new Error('broken build: daemon chunk');\n${readFileSync(daemonChunk, 'utf8')}`);
    const broken = new Date(Date.now() + 60_000);
    utimesSync(cli, broken, broken);

    // The heartbeat tries to hand off and fails, twice (the retry, after the backoff); or,
    // without the fix, the old runner is stopped and nothing replaces it.
    const oldLog = () => readFileSync(first.runnerLogPath, 'utf8');
    await waitFor(() => count(oldLog(), 'hand-off failed') >= 2 || !isAlive(first.pid), 30_000, 'two failed hand-offs');
    expect(isAlive(first.pid), 'the old runner must never be stopped for a build that cannot start').toBe(true);
    const failures = oldLog()
      .split('\n')
      .filter((l) => l.includes('hand-off failed'))
      .map((l) => JSON.parse(l) as { msg: string; retryInMs: number; attempt: number });
    expect(failures[0]!.msg).toContain('broken build: daemon chunk');
    expect(failures[0]!.msg).toContain(`runner PID ${first.pid} keeps running`);
    expect(failures[1]!.attempt).toBe(2);
    expect(failures[1]!.retryInMs).toBeGreaterThan(0);
    // Still serving: same state file, same sessions, and the CLI talks to it.
    expect(t.state()?.pid).toBe(first.pid);
    same(await list());
    expect(runnerPids(t.home)).toEqual([first.pid]);

    // Repair the build: the next retry completes the hand-off.
    cpSync(join(REPO_ROOT, 'dist'), copy, { recursive: true, force: true });
    const repaired = new Date(Date.now() + 120_000);
    utimesSync(cli, repaired, repaired);
    const second = await waitFor(() => {
      const s = t.state();
      return s && s.pid !== first.pid && s.startedWithCliMtimeMs === statSync(cli).mtimeMs ? s : undefined;
    }, 60_000, 'a new runner with the repaired build');
    await waitFor(() => !isAlive(first.pid), 10_000, 'old runner to exit');
    same(await list());
    expect(runnerPids(t.home)).toEqual([second.pid]);
    expect(readFileSync(second.runnerLogPath, 'utf8')).toContain('session adopted');
  }, 120_000);
});
