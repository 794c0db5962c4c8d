// One session-id rule on every path in, and every message to the hub bounded whatever the
// runner holds. Real processes: the built runner (its gRPC socket and HTTP gateway), a real hub
// process, simulated runners on the hub's MachineService. Session ids like `../../x` (a path)
// or of 900 KB were once accepted and saved, and five such ids pushed the runner's hello past
// the hub's 4 MiB limit: it never reconnected.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionState, StartedBy } from '../gen/hapi/common/v1/common.js';
import { SESSION_FIELD_LIMITS } from '../src/contract/limits.js';
import { processStartTime } from '../src/shared/proc.js';
import { cleanupAllHomes, createTestHome, waitFor, type RunnerStateFile, type TestHome } from './harness.js';
import { gatewayPost, machineIdOf, runnerGrpc } from './runner-calls.js';
import { rest, simRunner, startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';

const PATH_ID = '../../x';
const HUGE_ID = 'a'.repeat(900 * 1024);

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
const strangers: number[] = [];

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  for (const pid of strangers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await cleanupAllHomes();
});

function home(env: NodeJS.ProcessEnv = {}): TestHome {
  const th = createTestHome(env);
  homes.push(th);
  return th;
}

/** A long-lived process (killed after the test); `args` end up on its command line. */
async function idleProcess(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ pid: number; startTime: string }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', '--', ...args], { env, stdio: 'ignore', detached: true });
  child.unref();
  const pid = child.pid!;
  strangers.push(pid);
  const startTime = await waitFor(() => processStartTime(pid), 5_000, 'idle process');
  return { pid, startTime };
}

/** The gRPC error of `p`, which must fail. */
async function grpcError(p: Promise<unknown>): Promise<{ code: Status; details: string }> {
  const err = await p.then(
    () => undefined,
    (e: { code: Status; details: string }) => e,
  );
  if (!err) throw new Error('the call succeeded');
  return err;
}

function registryIds(th: TestHome): string[] {
  try {
    return JSON.parse(readFileSync(join(th.home, 'runner.sessions.json'), 'utf8')).sessions.map((s: { id: string }) => s.id);
  } catch {
    return [];
  }
}

/** A session of maximal size under the rules: every text field at its limit. */
function maximalEntry(i: number, pid: number, startTime: string) {
  const L = SESSION_FIELD_LIMITS;
  const pad = (prefix: string, n: number) => (prefix + 'x'.repeat(n)).slice(0, n);
  return {
    id: pad(`max-${i}-`, 128),
    pid,
    processStartTime: startTime,
    directory: pad(`/d${i}/`, L.directory),
    agent: pad('agent-', L.agent),
    startedBy: 'terminal',
    startedAt: new Date().toISOString(),
    state: 'running',
    worktree: { path: pad(`/w${i}/`, L.worktreePath), branch: pad('hapi/', L.worktreeBranch), repository: pad(`/r${i}/`, L.worktreeRepository) },
    logPath: pad(`/l${i}/`, L.logPath),
    requestId: pad(`req-${i}-`, L.requestId),
  };
}

describe('session ids: the runner', () => {
  it('refuses `../../x` and a 900 KB id from sessions on gRPC and HTTP (INVALID_ARGUMENT / 400), saving nothing', async () => {
    const th = home();
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const state = th.state()!;
    // A process of this HAPI_HOME whose command line names the path-like id, as a session's would.
    const { pid } = await idleProcess(th.env, ['--hapi-session-id', PATH_ID]);
    const metadata = { hostPid: pid, startedBy: StartedBy.STARTED_BY_TERMINAL, directory: '/tmp', agent: 'claude' };

    for (const sessionId of [PATH_ID, HUGE_ID]) {
      const started = await grpcError(runnerGrpc(state, (c) => c.sessionStarted({ sessionId, metadata })));
      expect(started.code).toBe(Status.INVALID_ARGUMENT);
      expect(started.details).toMatch(/^invalid session id/);
      expect(started.details.length).toBeLessThan(1_000);
      const http = await gatewayPost(state, '/session-started', { sessionId, metadata: { hostPid: pid, startedBy: 'terminal' } });
      expect(http.status).toBe(400);
      expect(http.body).toMatchObject({ success: false, code: 'InvalidArgument' });
      expect(http.body.error.length).toBeLessThan(1_000);

      expect((await grpcError(runnerGrpc(state, (c) => c.sessionEnded({ sessionId, exitCode: 0 })))).code).toBe(Status.INVALID_ARGUMENT);
      expect((await gatewayPost(state, '/stop-session', { sessionId })).status).toBe(400);
      expect((await grpcError(runnerGrpc(state, (c) => c.stopSession({ target: { $case: 'sessionId', value: sessionId } }))))).toMatchObject({
        code: Status.INVALID_ARGUMENT,
      });
      expect((await gatewayPost(state, '/spawn-session', { directory: th.home, sessionId })).status).toBe(400);
    }
    expect((await runnerGrpc(state, (c) => c.listSessions({}))).sessions).toEqual([]);
    expect(registryIds(th)).toEqual([]);
  });

  it('drops sessions that break the rules from a registry an older runner wrote, and keeps the others', async () => {
    const th = home();
    const live = await idleProcess(th.env);
    const entry = (id: string) => ({ id, pid: live.pid, processStartTime: live.startTime, directory: '/tmp', agent: 'claude', startedBy: 'terminal', startedAt: new Date().toISOString(), state: 'running' });
    const sessions = [entry(PATH_ID), entry(HUGE_ID), entry('fine-1'), { ...entry('long-dir'), directory: `/${'d'.repeat(5_000)}` }];
    writeFileSync(join(th.home, 'runner.sessions.json'), JSON.stringify({ version: 1, sessions }), { mode: 0o600 });
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const state = th.state()!;
    expect((await runnerGrpc(state, (c) => c.listSessions({}))).sessions.map((s) => s.id)).toEqual(['fine-1']);
    expect(registryIds(th)).toEqual(['fine-1']);
    const log = readFileSync(state.runnerLogPath, 'utf8');
    expect(log).toMatch(/ignoring session registry entry that breaks the session rules/);
    expect(log.length).toBeLessThan(200_000);
  });
});

describe('session ids: the hub', () => {
  it('drops invalid ids from a hello and from session events, and refuses them in spawn and stop (INVALID_ARGUMENT / 400)', async () => {
    const hubTh = home();
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const c = h.clients();
    const rpcs: string[] = [];
    const session = (id: string) => ({ id, pid: 7, startedBy: StartedBy.STARTED_BY_TERMINAL, directory: '/w', agent: 'claude', startedAt: new Date(), state: SessionState.SESSION_STATE_RUNNING, exitSignal: '', machineId: '', lastLine: '' });
    const sim = simRunner({
      url: h.grpcUrl,
      token: h.ownerToken,
      machineId: 'm-ids',
      sessions: [session('good-1'), session(PATH_ID), session(HUGE_ID)],
      onRpc: (req) => {
        rpcs.push(req.method?.$case ?? '?');
        // A runner answering a valid spawn with a session whose id breaks the rules.
        return { $case: 'spawnSession', value: { result: { $case: 'session', value: session(PATH_ID) } } };
      },
    });
    await sim.welcome;
    sim.send({ $case: 'sessionEvent', value: { type: 1, session: session('../evt') } });
    sim.send({ $case: 'sessionEvent', value: { type: 1, session: session('good-2') } });
    await waitFor(async () => (await c.hub.listSessions({ machineId: 'm-ids', includeEnded: true })).sessions.length === 2);
    const ids = async () => (await c.hub.listSessions({ machineId: 'm-ids', includeEnded: true })).sessions.map((s) => s.id).sort();
    expect(await ids()).toEqual(['good-1', 'good-2']);

    const spec = { directory: '/w', agent: '', approveCreateDirectory: false, requestId: '', agentArgs: [] };
    for (const sessionId of [PATH_ID, HUGE_ID.slice(0, 300)]) {
      expect(await grpcError(c.hub.spawnSession({ machineId: 'm-ids', spec: { ...spec, sessionId } }))).toMatchObject({ code: Status.INVALID_ARGUMENT });
      expect(await grpcError(c.hub.stopSession({ machineId: 'm-ids', sessionId }))).toMatchObject({ code: Status.INVALID_ARGUMENT });
    }
    expect((await rest(h.httpUrl, h.ownerToken, '/api/v1/machines/m-ids/sessions', { method: 'POST', body: { directory: '/w', sessionId: PATH_ID } })).status).toBe(400);
    expect((await rest(h.httpUrl, h.ownerToken, `/api/v1/machines/m-ids/sessions/${'a'.repeat(129)}/stop`, { method: 'POST' })).status).toBe(400);
    expect(rpcs).toEqual([]);

    // The runner's answer carries an invalid id: the caller gets an error, nothing is stored.
    expect(await grpcError(c.hub.spawnSession({ machineId: 'm-ids', spec: { ...spec, sessionId: 'ok-3' } }))).toMatchObject({ code: Status.INTERNAL });
    expect(rpcs).toEqual(['spawnSession']);
    expect(await ids()).toEqual(['good-1', 'good-2']);
    sim.end();
  });

  it('a runner holding many sessions with maximal valid fields still connects and reports them all', async () => {
    const hubTh = home();
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const th = home({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken, HAPI_LOG_LEVEL: 'info' });
    // 400 sessions of ~13 KB each on the wire: one hello with all of them would be over 5 MB.
    const live = await idleProcess(th.env);
    const count = 400;
    const sessions = Array.from({ length: count }, (_, i) => maximalEntry(i, live.pid, live.startTime));
    writeFileSync(join(th.home, 'runner.sessions.json'), JSON.stringify({ version: 1, sessions }), { mode: 0o600 });
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const machineId = await machineIdOf(th.home);
    await waitMachine(h.clients(), machineId, (m) => m.online, 20_000);
    // Through REST: one gRPC ListSessions answer with all of them would itself pass 4 MiB.
    const listed = await waitFor(async () => {
      const r = await rest(h.httpUrl, h.ownerToken, `/api/v1/sessions?machineId=${machineId}`);
      const live = (r.json?.sessions ?? []).filter((s: { state: string }) => /running/i.test(s.state));
      return live.length === count ? live : undefined;
    }, 20_000, `all ${count} sessions on the hub`);
    expect(listed[0].directory.length).toBe(SESSION_FIELD_LIMITS.directory);
    const log = readFileSync(th.state()!.runnerLogPath, 'utf8');
    expect(log).toMatch(/too many sessions for one hello/);
  });
});
