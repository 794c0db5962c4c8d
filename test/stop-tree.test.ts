// Stopping a session stops its whole process tree, including an agent's child that left the
// session's process group and session with setsid(). Real session processes (the built CLI,
// `npm run build` first) running the fixture agent, which starts such a child.
import { readFileSync } from 'node:fs';
import { createClient } from 'nice-grpc';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../src/contract/types.js';
import { processStartTime } from '../src/shared/proc.js';
import { FIXTURE_AGENT, cleanupAllHomes, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';
import { createManagerFixture, type ManagerFixture } from './fixtures/session-test-runner.js';

const homes: TestHome[] = [];
const fixtures: ManagerFixture[] = [];
/** setsid children: one started without HAPI_HOME is not found by the harness's cleanup. */
const strays: { pid: number; startTime: string }[] = [];

afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close().catch(() => {});
  for (const th of homes.splice(0)) await th.cleanup();
  for (const s of strays.splice(0)) {
    if (processStartTime(s.pid) === s.startTime) process.kill(s.pid, 'SIGKILL');
  }
});
afterAll(cleanupAllHomes);

function home(): TestHome {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
  homes.push(th);
  return th;
}

/** PID of the fixture agent's setsid child, once it runs; remembered for the cleanup. */
async function setsidChild(readOutput: () => string): Promise<number> {
  const pid = await waitFor(() => Number(/fixture agent setsid-child pid=(\d+)/.exec(readOutput())?.[1]) || undefined, 15_000, 'setsid child');
  strays.push({ pid, startTime: processStartTime(pid)! });
  return pid;
}

/** Its own session and group, apart from the agent's. */
function sidAndPgid(pid: number): [number, number] {
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(rest[3]), Number(rest[2])];
}

async function spawnWith(f: ManagerFixture, th: TestHome, agentArgs: string[]): Promise<SessionInfo> {
  const outcome = await f.manager.spawn({ directory: th.home, approveCreateDirectory: false, agentArgs });
  if (outcome.kind !== 'session') throw new Error(`expected a session, got ${JSON.stringify(outcome)}`);
  return outcome.session;
}

describe('stop-session stops the whole process tree', () => {
  it('a runner-spawned session: the agent child that called setsid is gone after stop', async () => {
    const th = home();
    const f = await createManagerFixture(th);
    fixtures.push(f);
    const s = await spawnWith(f, th, ['--setsid-child']);
    const child = await setsidChild(() => readFileSync(s.logPath!, 'utf8'));
    const [sid, pgid] = sidAndPgid(child);
    expect(sid).toBe(child);
    expect(pgid).not.toBe(s.pid);

    expect(await f.manager.stop({ sessionId: s.id })).toEqual({ result: 'stopped', sessionId: s.id });
    expect(isAlive(s.pid)).toBe(false);
    expect(isAlive(child)).toBe(false);
  }, 60_000);

  it('a child without the session in its environment that ignores SIGTERM is found through /proc and SIGKILLed', async () => {
    const th = home();
    const f = await createManagerFixture(th, { stopGraceMs: 500 });
    fixtures.push(f);
    const s = await spawnWith(f, th, ['--setsid-child-clean-env', '--child-ignore-sigterm']);
    const child = await setsidChild(() => readFileSync(s.logPath!, 'utf8'));
    expect(readFileSync(`/proc/${child}/environ`, 'utf8')).not.toContain('HAPI_');

    expect(await f.manager.stop({ sessionId: s.id })).toEqual({ result: 'stopped', sessionId: s.id });
    expect(isAlive(child)).toBe(false);
  }, 60_000);

  it('a terminal session (not leading its group) through the real runner and `hapi runner stop-session`', async () => {
    const th = home();
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const session = th.spawnCli(['--', '--setsid-child']);
    let stdout = '';
    session.stdout!.on('data', (d) => (stdout += d));
    const child = await setsidChild(() => stdout);
    const listed = await waitFor(async () => {
      const r = await th.cli(['runner', 'list', '--json']);
      return (JSON.parse(r.stdout).sessions as { sessionId: string; pid: number }[]).find((x) => x.pid === session.pid);
    }, 20_000, 'terminal session listed');

    const stop = await th.cli(['runner', 'stop-session', listed.sessionId]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain('stopped');
    expect(isAlive(child)).toBe(false);
    expect(isAlive(session.pid!)).toBe(false);
  }, 60_000);

  it('a terminal session that started the runner: stopping it never reaches the runner or its other sessions', async () => {
    const th = home();
    // No runner yet: this session starts it, so the runner is (at first) its child.
    const session = th.spawnCli(['--', '--setsid-child']);
    let stdout = '';
    session.stdout!.on('data', (d) => (stdout += d));
    const child = await setsidChild(() => stdout);
    const listed = await waitFor(async () => {
      const r = await th.cli(['runner', 'list', '--json']);
      return r.code === 0 ? (JSON.parse(r.stdout).sessions as { sessionId: string; pid: number }[]).find((x) => x.pid === session.pid) : undefined;
    }, 20_000, 'terminal session listed');
    const runnerPid = th.state()!.pid;
    expect(readFileSync(`/proc/${runnerPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]).toBe(String(session.pid));
    const channel = createUdsChannel(th.state()!.socketPath);
    let otherPid: number;
    try {
      const r = await createClient(RunnerServiceDefinition, channel).spawnSession({
        spec: { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] },
      });
      otherPid = r.outcome!.result!.$case === 'session' ? r.outcome!.result!.value.pid : 0;
    } finally {
      channel.close();
    }
    expect(otherPid).toBeGreaterThan(0);

    const stop = await th.cli(['runner', 'stop-session', listed.sessionId]);
    expect(stop.stdout).toContain('stopped');
    expect(isAlive(child)).toBe(false);
    expect(isAlive(runnerPid)).toBe(true);
    expect(isAlive(otherPid)).toBe(true);
    expect((await th.cli(['runner', 'status', '--json'])).code).toBe(0);
  }, 60_000);
});
