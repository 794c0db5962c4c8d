// Issue 10 item 14: `hapi runner stop` while spawns wait for their session's report. Every call
// in flight gets an answer before the servers close (HTTP 503 / gRPC UNAVAILABLE "the runner is
// shutting down; session <id> was stopped ..."), never a "socket hang up", and the half-started
// session's whole process tree is killed: nothing is left running, nothing is ambiguous. Real
// runner, real sessions (they report late through a test-only delay), real sockets.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createClient, Status } from 'nice-grpc';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { FIXTURE_AGENT, cleanupAllHomes, createTestHome, isAlive, processesOfHome, waitFor, type TestHome } from './harness.js';
import { gatewayPost } from './runner-calls.js';

let th: TestHome | undefined;
afterEach(async () => {
  await th?.cleanup();
  th = undefined;
});
afterAll(cleanupAllHomes);

/** PIDs of this home's session processes and agents for `sessionId` (command line or HAPI_SESSION_ID). */
function processesOfSession(home: string, sessionId: string): number[] {
  return processesOfHome(home).filter((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return cmdline.includes(sessionId) || environ.includes(`HAPI_SESSION_ID=${sessionId}`);
    } catch {
      return false;
    }
  });
}

describe('runner stop while spawns wait for their session report', () => {
  it('answers the waiting HTTP and gRPC callers with UNAVAILABLE and kills the half-started sessions', async () => {
    const t = (th = createTestHome({
      HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}`,
      HAPI_TEST_SESSION_REPORT_DELAY_MS: '60000',
      HAPI_RUNNER_WEBHOOK_TIMEOUT_MS: '90000',
    }));
    const started = await t.cli(['runner', 'start']);
    expect(started.code, started.stderr).toBe(0);
    const state = t.state()!;

    const channel = createUdsChannel(state.socketPath);
    const client = createClient(RunnerServiceDefinition, channel);
    try {
      const spec = { directory: t.home, agent: '', approveCreateDirectory: false, requestId: '', agentArgs: [] };
      const overHttp = gatewayPost(state, '/spawn-session', { directory: t.home, sessionId: 'via-http' });
      const overGrpc = client.spawnSession({ spec: { ...spec, sessionId: 'via-grpc' } }).then(
        () => ({ code: Status.OK, details: 'answered with a session' }),
        (err: { code: Status; details: string }) => ({ code: err.code, details: err.details }),
      );
      // Both sessions and their agents run, and neither has reported.
      for (const id of ['via-http', 'via-grpc']) {
        await waitFor(() => processesOfSession(t.home, id).length >= 2, 20_000, `session ${id} and its agent to run`);
      }
      const sessionPids = [...processesOfSession(t.home, 'via-http'), ...processesOfSession(t.home, 'via-grpc')];

      const stop = await t.cli(['runner', 'stop']);
      expect(stop.code, stop.stderr).toBe(0);

      const http = await overHttp;
      expect(http.status).toBe(503);
      expect(http.body).toMatchObject({ success: false, code: 'Unavailable' });
      expect(http.body.error).toMatch(/the runner is shutting down; session via-http was stopped/);
      const grpc = await overGrpc;
      expect(grpc.code).toBe(Status.UNAVAILABLE);
      expect(grpc.details).toMatch(/the runner is shutting down; session via-grpc was stopped/);

      // Killed, not orphaned: no process of either session is left, and the runner is gone.
      expect(isAlive(state.pid)).toBe(false);
      for (const pid of sessionPids) expect(isAlive(pid), `session process ${pid}`).toBe(false);
      expect(processesOfHome(t.home).filter(isAlive)).toEqual([]);
      // The next runner has nothing to re-adopt.
      const again = await t.cli(['runner', 'start']);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse((await t.cli(['runner', 'list', '--json'])).stdout)).toEqual({ sessions: [] });
    } finally {
      channel.close();
    }
  }, 60_000);
});
