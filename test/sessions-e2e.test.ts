// Sessions end to end through the built CLI and the real runner daemon: terminal sessions,
// spawns over gRPC and the HTTP gateway, stop-session, and re-adoption after `kill -9` of the
// runner. Every process is started for a temporary HAPI_HOME and killed by cleanup().
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'nice-grpc';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { processStartTime } from '../src/shared/proc.js';
import { FIXTURE_AGENT, cleanupAllHomes, copyBuild, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';

const TERMINAL_LABEL = 'hapi directly - likely by user from terminal';
const homes: TestHome[] = [];

afterEach(async () => {
  for (const th of homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

function home(extra: NodeJS.ProcessEnv = {}): TestHome {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}`, ...extra });
  homes.push(th);
  return th;
}

interface Listed {
  sessionId: string;
  pid: number;
  startedBy: string;
  directory: string;
  agent: string;
}

async function listJson(th: TestHome): Promise<Listed[]> {
  const r = await th.cli(['runner', 'list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).sessions as Listed[];
}

async function startRunner(th: TestHome): Promise<void> {
  const r = await th.cli(['runner', 'start']);
  expect(r.code, r.stderr).toBe(0);
}

function runnerClient(th: TestHome) {
  const channel = createUdsChannel(th.state()!.socketPath);
  return { client: createClient(RunnerServiceDefinition, channel), close: () => channel.close() };
}

function runnerLogText(th: TestHome): string {
  const dir = join(th.home, 'logs');
  return readdirSync(dir)
    .filter((f) => /^runner-.*\.log$/.test(f))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('');
}

describe('terminal sessions', () => {
  it('`hapi` starts a runner, shows up with the terminal label, and exits with the agent exit code', async () => {
    const th = home();
    const child = th.spawnCli(['--', '--stderr', 'hello-from-agent']);
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

    const listed = await waitFor(async () => (await listJson(th)).find((s) => s.pid === child.pid), 20_000, 'terminal session listed');
    expect(listed).toMatchObject({ startedBy: 'terminal', agent: 'claude', directory: th.home });
    const text = await th.cli(['runner', 'list']);
    expect(text.stdout).toContain(`Session: ${listed.sessionId}  PID: ${child.pid}  Started by: ${TERMINAL_LABEL}`);
    expect(runnerLogText(th)).toContain('"msg":"Session reported"');
    await waitFor(() => stdout.includes('fixture agent pid='), 5_000, 'agent output on the terminal');
    expect(stdout).toContain(`session=${listed.sessionId}`);

    // SIGTERM is forwarded to the agent, which exits 0; the session reports its end.
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor(async () => !(await listJson(th)).some((s) => s.sessionId === listed.sessionId), 10_000, 'session gone from list');

    expect((await th.cli(['--', '--exit-now', '5'])).code).toBe(5);
    expect((await th.cli(['--', '--exit-signal', 'SIGKILL'])).code).toBe(128 + 9);
  });

  it('runs the agent anyway, with a one-line note, when no runner can be started', async () => {
    // A bad runner setting makes `ensureRunner` fail before anything starts.
    const th = home({ HAPI_RUNNER_HEARTBEAT_INTERVAL: 'soon' });
    const r = await th.cli(['--', '--exit-now', '4']);
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('fixture agent pid=');
    const notes = r.stderr.trim().split('\n').filter((l) => l.startsWith('hapi: runner not available'));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('HAPI_RUNNER_HEARTBEAT_INTERVAL');
  });

  it('a terminal session that found no runner reports itself to a runner started later', async () => {
    const th = home({ HAPI_SESSION_REPORT_RETRY_MS: '100' });
    // The session's own environment breaks runner start-up; the runner started below is fine.
    const session = th.spawnCli([], { env: { HAPI_RUNNER_HEARTBEAT_INTERVAL: 'soon' } });
    let stderr = '';
    session.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    let stdout = '';
    session.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => session.once('exit', (code) => resolve(code)));
    await waitFor(() => stdout.includes('fixture agent pid='), 10_000, 'the agent to run');
    expect(stderr).toContain('hapi: runner not available');
    expect(th.state()).toBeUndefined();

    await startRunner(th);
    const listed = await waitFor(async () => (await listJson(th)).find((s) => s.pid === session.pid), 10_000, 'the late report');
    expect(listed).toMatchObject({ startedBy: 'terminal', directory: th.home });
    const text = await th.cli(['runner', 'list']);
    expect(text.stdout).toContain(`PID: ${session.pid}  Started by: ${TERMINAL_LABEL}`);

    // The runner now controls it like any other session.
    const stop = await th.cli(['runner', 'stop-session', listed.sessionId]);
    expect(stop.stdout).toContain('stopped');
    expect(await exited).toBe(0);
    expect(await listJson(th)).toEqual([]);
  });

  it('a missing agent is a clear error with a non-zero exit code', async () => {
    const th = home({ HAPI_AGENT_CLAUDE_COMMAND: '', PATH: '/nonexistent-bin' });
    const r = await th.cli(['--agent', 'gemini']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hapi: agent 'gemini' not found on PATH; set HAPI_AGENT_GEMINI_COMMAND or agents.gemini.command in");
    const unknown = await th.cli(['--agent', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown agent 'nope'");
  });
});

describe('runner-spawned sessions', () => {
  it('spawns over gRPC and over HTTP /spawn-session, lists them as runner sessions, and stops them by id and PID', async () => {
    const th = home();
    await startRunner(th);
    const { client, close } = runnerClient(th);
    try {
      const r = await client.spawnSession({ spec: { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } });
      expect(r.outcome?.result?.$case).toBe('session');
      const viaGrpc = r.outcome!.result!.$case === 'session' ? r.outcome!.result!.value : undefined;
      expect(viaGrpc?.pid).toBeGreaterThan(0);

      const state = th.state()!;
      const res = await fetch(`http://127.0.0.1:${state.httpPort}/spawn-session`, {
        method: 'POST',
        headers: { authorization: `Bearer ${state.controlToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ directory: th.home }),
      });
      const body = (await res.json()) as { success: boolean; sessionId: string; pid: number };
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.success).toBe(true);

      const listed = await listJson(th);
      expect(listed.map((s) => s.sessionId).sort()).toEqual([viaGrpc!.id, body.sessionId].sort());
      expect(listed.every((s) => s.startedBy === 'runner')).toBe(true);
      const text = await th.cli(['runner', 'list']);
      expect(text.stdout).toContain(`Session: ${body.sessionId}  PID: ${body.pid}  Started by: runner`);

      const byId = await th.cli(['runner', 'stop-session', viaGrpc!.id]);
      expect(byId.stdout).toContain(`Session ${viaGrpc!.id} stopped`);
      const byPid = await th.cli(['runner', 'stop-session', `PID-${body.pid}`]);
      expect(byPid.stdout).toContain('stopped');
      expect(isAlive(viaGrpc!.pid)).toBe(false);
      expect(await listJson(th)).toEqual([]);
      const again = await th.cli(['runner', 'stop-session', viaGrpc!.id]);
      expect(again.stdout).toContain('already gone');
      const unknown = await th.cli(['runner', 'stop-session', 'no-such-session']);
      expect(unknown.code).toBe(4);
      expect(unknown.stderr).toContain('no session with id no-such-session');
    } finally {
      close();
    }
  });

  it('after kill -9 of the runner, a new runner re-adopts all 10 live sessions without restarting any', async () => {
    const th = home();
    await startRunner(th);
    const { client, close } = runnerClient(th);
    const spawned: { id: string; pid: number; startTime: string }[] = [];
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          client.spawnSession({ spec: { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } }),
        ),
      );
      for (const r of results) {
        const s = r.outcome!.result!.$case === 'session' ? r.outcome!.result!.value : undefined;
        spawned.push({ id: s!.id, pid: s!.pid, startTime: processStartTime(s!.pid)! });
      }
    } finally {
      close();
    }
    const runnerPid = th.state()!.pid;
    process.kill(runnerPid, 'SIGKILL');
    await waitFor(() => !isAlive(runnerPid) || processStartTime(runnerPid) === undefined, 5_000, 'runner killed');
    expect(spawned.every((s) => processStartTime(s.pid) === s.startTime)).toBe(true);

    await startRunner(th);
    expect(th.state()!.pid).not.toBe(runnerPid);
    const listed = await listJson(th);
    expect(listed.map((s) => s.sessionId).sort()).toEqual(spawned.map((s) => s.id).sort());
    // Same processes (PID and start time): adopted, not restarted.
    for (const s of spawned) {
      expect(listed.find((l) => l.sessionId === s.id)?.pid).toBe(s.pid);
      expect(processStartTime(s.pid)).toBe(s.startTime);
    }
    expect(runnerLogText(th)).toContain('session adopted');
    // And the new runner controls them.
    const stop = await th.cli(['runner', 'stop-session', spawned[0]!.id]);
    expect(stop.stdout).toContain('stopped');
    expect((await listJson(th)).length).toBe(9);
  });

  it('keeps live sessions across `hapi runner stop` + `start`, and across the version hand-off', async () => {
    const th = home({ HAPI_RUNNER_HEARTBEAT_INTERVAL: '300' });
    // A private copy of the build, so touching its mtime (an "upgrade") affects only this test.
    const cliPath = copyBuild(th.home);
    const cli = (args: string[]) => th.cli(args, { cliPath });
    const list = async (): Promise<Listed[]> => {
      const r = await cli(['runner', 'list', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).sessions as Listed[];
    };
    const same = (listed: Listed[], spawned: { id: string; pid: number; startTime: string }[]) => {
      expect(listed.map((l) => l.sessionId).sort()).toEqual(spawned.map((s) => s.id).sort());
      for (const s of spawned) {
        expect(listed.find((l) => l.sessionId === s.id)?.pid).toBe(s.pid);
        expect(processStartTime(s.pid)).toBe(s.startTime);
      }
    };

    expect((await cli(['runner', 'start'])).code).toBe(0);
    const { client, close } = runnerClient(th);
    const spawned: { id: string; pid: number; startTime: string }[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = await client.spawnSession({
          spec: { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] },
        });
        const s = r.outcome!.result!.$case === 'session' ? r.outcome!.result!.value : undefined;
        spawned.push({ id: s!.id, pid: s!.pid, startTime: processStartTime(s!.pid)! });
      }
    } finally {
      close();
    }

    // A graceful stop never touches sessions; the next runner adopts them.
    const first = th.state()!;
    expect((await cli(['runner', 'stop'])).code).toBe(0);
    expect(isAlive(first.pid)).toBe(false);
    expect(spawned.every((s) => processStartTime(s.pid) === s.startTime)).toBe(true);
    expect((await cli(['runner', 'start'])).code).toBe(0);
    const second = th.state()!;
    expect(second.pid).not.toBe(first.pid);
    same(await list(), spawned);

    // The CLI file changes: the heartbeat hands off to a new runner, which lists the same sessions.
    const future = new Date(Date.now() + 60_000);
    utimesSync(cliPath, future, future);
    const third = await waitFor(() => {
      const s = th.state();
      return s && s.pid !== second.pid && s.startedWithCliMtimeMs === statSync(cliPath).mtimeMs ? s : undefined;
    }, 30_000, 'a new runner after the hand-off');
    await waitFor(() => !isAlive(second.pid), 10_000, 'old runner to exit');
    expect(third.pid).not.toBe(second.pid);
    same(await list(), spawned);
  }, 60_000);
});
