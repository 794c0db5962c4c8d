// A session report names a PID that the runner may signal later (stop-session, or at once for
// an orphan "runner" report). The runner accepts only a live hapi session process of its own
// HAPI_HOME with that id, never itself, and otherwise refuses the report without signalling
// anything. The real runner daemon (the built CLI, `npm run build` first), its HTTP gateway
// and its gRPC socket.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StartedBy } from '../gen/hapi/common/v1/common.js';
import { processStartTime } from '../src/shared/proc.js';
import { FIXTURE_AGENT, cleanupAllHomes, createTestHome, isAlive, waitFor, type RunnerStateFile, type TestHome } from './harness.js';
import { gatewayPost, runnerGrpc } from './runner-calls.js';

const homes: TestHome[] = [];
/** Processes started outside any test home (the harness's cleanup would not find them). */
const strangers: number[] = [];

afterEach(async () => {
  for (const th of homes.splice(0)) await th.cleanup();
  for (const pid of strangers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});
afterAll(cleanupAllHomes);

async function runner(): Promise<{ th: TestHome; state: RunnerStateFile }> {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
  homes.push(th);
  const r = await th.cli(['runner', 'start']);
  expect(r.code, r.stderr).toBe(0);
  return { th, state: th.state()! };
}

/** A process unrelated to hapi: no HAPI_HOME of any test, started by this test. */
async function stranger(env: NodeJS.ProcessEnv = { PATH: process.env.PATH }): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { env, stdio: 'ignore', detached: true });
  child.unref();
  const pid = child.pid!;
  strangers.push(pid);
  await waitFor(() => processStartTime(pid), 5_000, 'stranger process');
  return pid;
}

const report = (sessionId: string, hostPid: number, startedBy: 'runner' | 'terminal') => ({ sessionId, metadata: { hostPid, startedBy } });

describe('session reports name only hapi sessions of this HAPI_HOME', () => {
  it('an orphan "runner" report naming an unrelated PID is refused, and that process is never signalled', async () => {
    const { th, state } = await runner();
    const pid = await stranger();
    const r = await gatewayPost(state, '/session-started', report('orphan-x', pid, 'runner'));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain(`PID ${pid} is not a hapi session of this HAPI_HOME`);
    // Even one of this HAPI_HOME is refused when nothing about it names that session.
    const same = await stranger(th.env);
    expect((await gatewayPost(state, '/session-started', report('orphan-y', same, 'runner'))).status).toBe(400);

    // A graceful stop waits for every kill the runner started: none may have hit them.
    expect((await th.cli(['runner', 'stop'])).code).toBe(0);
    expect(isAlive(pid)).toBe(true);
    expect(isAlive(same)).toBe(true);
    expect(readFileSync(state.runnerLogPath, 'utf8')).not.toContain('orphan session report: not spawned by this runner; stopping it');
  });

  it("a report naming the runner's own PID is refused over HTTP and gRPC, and the runner keeps running", async () => {
    const { th, state } = await runner();
    const http = await gatewayPost(state, '/session-started', report('self-1', state.pid, 'runner'));
    expect(http.status).toBe(400);
    expect(http.body.error).toContain(`PID ${state.pid} is the runner itself`);
    const grpc = await runnerGrpc(state, (c) =>
      c.sessionStarted({ sessionId: 'self-2', metadata: { hostPid: state.pid, startedBy: StartedBy.STARTED_BY_RUNNER, directory: '', agent: '' } }),
    ).catch((e: unknown) => e as Error);
    expect(String(grpc)).toContain('INVALID_ARGUMENT');
    expect(String(grpc)).toContain('is the runner itself');
    expect((await gatewayPost(state, '/session-started', report('self-3', state.pid, 'terminal'))).status).toBe(400);

    const status = await th.cli(['runner', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).pid).toBe(state.pid);
    expect(isAlive(state.pid)).toBe(true);
    expect(readFileSync(state.runnerLogPath, 'utf8')).not.toContain('runner shutting down');
  });

  it('a terminal report naming an unrelated PID is refused, so stop-session can never reach it', async () => {
    const { th, state } = await runner();
    const pid = await stranger();
    const http = await gatewayPost(state, '/session-started', report('term-x', pid, 'terminal'));
    expect(http.status).toBe(400);
    expect(http.body.error).toMatch(/its HAPI_HOME is .*, not|is not a hapi session of this HAPI_HOME/);
    const grpc = await runnerGrpc(state, (c) =>
      c.sessionStarted({ sessionId: 'term-y', metadata: { hostPid: pid, startedBy: StartedBy.STARTED_BY_TERMINAL, directory: '', agent: '' } }),
    ).catch((e: unknown) => e as Error);
    expect(String(grpc)).toContain('INVALID_ARGUMENT');
    expect((await th.cli(['runner', 'stop-session', 'term-x'])).code).toBe(4);
    expect(isAlive(pid)).toBe(true);
  });

  it('a real terminal session is still accepted (its agent carries the session id) and can be stopped', async () => {
    const { th } = await runner();
    const session = th.spawnCli([]);
    const listed = await waitFor(async () => {
      const r = await th.cli(['runner', 'list', '--json']);
      return (JSON.parse(r.stdout).sessions as { sessionId: string; pid: number }[]).find((x) => x.pid === session.pid);
    }, 20_000, 'terminal session listed');
    const stop = await th.cli(['runner', 'stop-session', listed.sessionId]);
    expect(stop.stdout).toContain('stopped');
    await waitFor(() => !isAlive(session.pid!), 10_000, 'terminal session gone');
  });
});
