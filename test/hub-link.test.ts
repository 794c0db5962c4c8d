// The runner's hub link against an in-process hub (real gRPC on real sockets), with the
// runner's real service facade (RunnerControl) over a small in-memory SessionManager standing in
// for the runner's sessions.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createGrpcServer, Status } from 'nice-grpc';
import { hubConfig } from '../src/shared/config.js';
import { NotFoundError, UnavailableError } from '../src/shared/errors.js';
import { errorMappingMiddleware } from '../src/shared/grpc-errors.js';
import { MachineServiceDefinition } from '../src/contract/machine-link.js';
import { silentLogger } from '../src/shared/logger.js';
import { hapiPaths } from '../src/shared/paths.js';
import { connectHub } from '../src/shared/hub-client.js';
import { startHub, type RunningHub } from '../src/hub/server.js';
import { createHubLink, type HubLink } from '../src/runner/hub-link/index.js';
import { realClock, type HubLinkClock } from '../src/runner/hub-link/clock.js';
import type { SessionInfo } from '../src/contract/types.js';
import { createReadiness, createRunnerControl, type RunnerStatus } from '../src/runner/runner-control.js';
import type { SessionEvent, SessionManager } from '../src/runner/domain.js';
import { waitFor } from './harness.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-link-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function inProcessHub(env: Record<string, string> = {}): Promise<RunningHub> {
  const home = tempHome();
  const e = { HAPI_HOME: home, HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', ...env };
  const hub = await startHub({ config: hubConfig(e), paths: hapiPaths(e), log: silentLogger(), shutdownGraceMs: 500 });
  cleanups.push(() => hub.close());
  return hub;
}

function fakeSessions() {
  const listeners = new Set<(e: SessionEvent) => void>();
  const live: SessionInfo[] = [];
  const mk = (id: string, directory: string): SessionInfo => ({ id, pid: 100 + live.length, startedBy: 'runner', directory, agent: 'claude', startedAt: new Date(), state: 'running' });
  const manager: SessionManager = {
    start: async () => [],
    list: () => [...live],
    find: (id) => live.find((s) => s.id === id),
    async spawn(spec) {
      if (spec.directory === '/slow') await new Promise((r) => setTimeout(r, 5_000));
      const s = mk(spec.sessionId ?? `s-${live.length + 1}`, spec.directory);
      live.push(s);
      for (const l of listeners) l({ kind: 'started', session: s });
      return { kind: 'session', session: s };
    },
    async stop(target) {
      const id = 'sessionId' in target ? target.sessionId : '';
      const i = live.findIndex((s) => s.id === id);
      if (i < 0) throw new NotFoundError(`session ${id} not found`);
      const [s] = live.splice(i, 1);
      for (const l of listeners) l({ kind: 'ended', session: { ...s!, state: 'ended', endedAt: new Date() } });
      return { result: 'stopped', sessionId: id };
    },
    reportStarted: () => {
      throw new Error('unused');
    },
    reportEnded: () => undefined,
    pruneDead: () => [],
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: async () => undefined,
  };
  return { manager, live, emit: (e: SessionEvent) => listeners.forEach((l) => l(e)), mk };
}

/** The real clock, counting the sleeps still pending (each one is a live timer). */
function countingClock(): { clock: HubLinkClock; pending: Set<number> } {
  const pending = new Set<number>();
  let next = 0;
  return {
    pending,
    clock: {
      now: realClock.now,
      sleep(ms, signal) {
        const id = ++next;
        pending.add(id);
        return realClock.sleep(ms, signal).finally(() => pending.delete(id));
      },
    },
  };
}

function link(hubUrl: string, token: string | undefined, home: string, sessions = fakeSessions(), clock?: HubLinkClock) {
  const stops: string[] = [];
  const readiness = createReadiness();
  readiness.set('ready');
  const status = (): RunnerStatus => ({
    pid: 4321,
    startedAt: new Date(0),
    cliVersion: 'test',
    cliMtimeMs: 0,
    cliPath: '/hapi',
    httpPort: 1,
    socketPath: '/runner.sock',
    logPath: '/runner.log',
    logWrites: { failing: false, droppedLines: 0 },
    hubLink: { state: 'connected' },
    sessionCount: sessions.live.length,
    hapiHome: home,
    workspaceRoots: [],
    ready: true,
    lastSpawnError: '',
    counters: { spawns: 0, spawnFailures: 0, stops: 0, hubReconnects: 0, hubLinkFailures: 0, relayedCalls: 0, relayedCallFailures: 0, logWriteFailures: 0 },
  });
  const control = createRunnerControl({ readiness, sessions: () => sessions.manager, status, requestStop: (r) => stops.push(r) });
  const l: HubLink = createHubLink({
    config: { apiUrl: hubUrl, token },
    paths: hapiPaths({ HAPI_HOME: home }),
    log: silentLogger(),
    metadata: { agents: ['claude'] },
    control,
    backoff: { initialMs: 50, maxMs: 200 },
    clock,
  });
  cleanups.push(() => l.close('test cleanup'));
  return { link: l, stops, sessions };
}

describe('hub link', () => {
  it('stays not-configured and never connects without a token', async () => {
    const home = tempHome();
    const { link: l } = link('http://127.0.0.1:1', undefined, home);
    expect(l.status()).toEqual({ state: 'not-configured' });
  });

  it("waits at least the retry hint of a hub too busy to take its connect (gRPC's retry pushback), above its own backoff", async () => {
    // A hub whose admission control refuses every connect with a hint of 7 s (connect-gate.ts).
    const server = createGrpcServer();
    const refuse = async function* () {
      throw new UnavailableError('hub is busy accepting runners; retry in 7000 ms', { retryAfterMs: 7_000 });
    };
    const impl = new Proxy({}, { get: (_t, name) => (name === 'connect' ? refuse : async () => Promise.reject(new Error('not used'))) });
    server.with(errorMappingMiddleware({ error: () => undefined })).add(MachineServiceDefinition, impl as never);
    const port = await server.listen('127.0.0.1:0');
    cleanups.push(() => server.shutdown());
    const sleeps: number[] = [];
    // Records each delay and sleeps only briefly, so the test does not wait 7 s per attempt.
    const clock: HubLinkClock = { now: realClock.now, sleep: (ms, signal) => (sleeps.push(ms), realClock.sleep(20, signal)) };
    const { link: l } = link(`http://127.0.0.1:${port}`, 'some-token', tempHome(), fakeSessions(), clock);
    await waitFor(() => sleeps.length >= 3, 10_000, 'three refused attempts');
    // Its own backoff is capped at 200 ms here; the hint wins.
    expect(sleeps.slice(0, 3).every((ms) => ms === 7_000)).toBe(true);
    expect(l.status().lastError).toMatch(/busy accepting runners/);
  });

  it('connects from the first attempt once the hub appears, with a stable 0600 machine id', async () => {
    const port = await freePort();
    const home = tempHome();
    const seeded = await inProcessHub();
    const token = seeded.createdOwnerToken!;
    await seeded.close();
    // Same database (so the token is valid), on a port the link already tries.
    const { link: l } = link(`http://127.0.0.1:${port}`, token, home);
    await waitFor(() => l.status().lastError !== undefined, 5_000, 'a failed first attempt');
    expect(l.status().state).toBe('reconnecting');
    const hub = await startHub({
      config: hubConfig({ HAPI_HOME: seeded.store.path.replace(/\/hub\.db$/, ''), HAPI_HUB_GRPC_PORT: String(port), HAPI_HUB_HTTP_PORT: '0' }),
      paths: hapiPaths({ HAPI_HOME: seeded.store.path.replace(/\/hub\.db$/, '') }),
      log: silentLogger(),
      shutdownGraceMs: 500,
    });
    cleanups.push(() => hub.close());
    await waitFor(() => l.status().state === 'connected', 10_000, 'connected');
    const st = l.status();
    expect(st).toMatchObject({ namespace: 'default', hubUrl: `http://127.0.0.1:${port}` });
    expect(st.connectedSince).toBeInstanceOf(Date);
    const idFile = join(home, 'machine-id');
    expect(statSync(idFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(idFile, 'utf8').trim()).toBe(st.machineId);
  });

  it('answers relayed calls through RunnerControl and forwards session events', async () => {
    const hub = await inProcessHub({ HAPI_HUB_SPAWN_DEADLINE_MS: '1000' });
    const home = tempHome();
    const { link: l, stops, sessions } = link(hub.grpcUrl, hub.createdOwnerToken!, home);
    await waitFor(() => l.status().state === 'connected');
    const machineId = l.status().machineId!;
    const c = connectHub(hub.grpcUrl, hub.createdOwnerToken!);
    cleanups.push(() => c.close());

    const spec = { directory: '/w', agent: '', sessionId: 'abc', approveCreateDirectory: false, requestId: '', agentArgs: [] };
    const r = await c.hub.spawnSession({ machineId, spec });
    expect(r.outcome?.result).toMatchObject({ $case: 'session', value: { id: 'abc', machineId, directory: '/w' } });
    expect((await c.hub.getRunnerStatus({ machineId })).sessionCount).toBe(1);
    await expect(c.hub.stopSession({ machineId, sessionId: 'ghost' })).rejects.toMatchObject({ code: Status.NOT_FOUND, details: 'session ghost not found' });
    // The runner honours the hub's deadline.
    await expect(c.hub.spawnSession({ machineId, spec: { ...spec, directory: '/slow', sessionId: 'slow' } })).rejects.toMatchObject({
      code: Status.DEADLINE_EXCEEDED,
    });

    // A session started locally shows up on the hub; a stop relayed from the hub ends it there.
    sessions.emit({ kind: 'started', session: sessions.mk('local-1', '/l') });
    await waitFor(async () => (await c.hub.listSessions({ machineId, includeEnded: false })).sessions.some((s) => s.id === 'local-1'));
    await c.hub.stopSession({ machineId, sessionId: 'abc' });
    await waitFor(async () => !(await c.hub.listSessions({ machineId, includeEnded: false })).sessions.some((s) => s.id === 'abc'));

    await c.hub.stopRunner({ machineId });
    await waitFor(() => stops.length === 1);
    expect(stops).toEqual(['hub']);
  });

  it('retries a stale state update from the current version and publishes shutting-down on close', async () => {
    const hub = await inProcessHub();
    const home = tempHome();
    const { link: l } = link(hub.grpcUrl, hub.createdOwnerToken!, home);
    await waitFor(() => l.status().state === 'connected');
    const machineId = l.status().machineId!;
    // Someone else moved the stored version on: the link's next update is stale.
    const m = (await hub.store.getMachine(machineId))!;
    await hub.store.saveMachine({ ...m, runnerStateVersion: m.runnerStateVersion + 5, runnerState: { ...m.runnerState, lastSpawnError: 'other writer' } });
    const t0 = Date.now();
    await l.close('cli');
    expect(Date.now() - t0).toBeLessThan(1_500);
    const after = (await hub.store.getMachine(machineId))!;
    expect(after.runnerState).toMatchObject({ status: 'shutting-down', shutdownReason: 'cli', lastSpawnError: '' });
    expect(after.runnerStateVersion).toBe(m.runnerStateVersion + 6);
    expect(after.online).toBe(false);
  });

  it('close() leaves no timer behind: the hub has shutting-down and every sleep the link started is cancelled', async () => {
    const hub = await inProcessHub();
    const home = tempHome();
    const { clock, pending } = countingClock();
    const { link: l } = link(hub.grpcUrl, hub.createdOwnerToken!, home, fakeSessions(), clock);
    await waitFor(() => l.status().state === 'connected');
    const machineId = l.status().machineId!;
    await l.close('cli');
    expect((await hub.store.getMachine(machineId))!.runnerState).toMatchObject({ status: 'shutting-down', shutdownReason: 'cli' });
    // A pending sleep is a live timer: it would keep the runner's process alive after its shutdown.
    expect(pending.size).toBe(0);
  });

  it('close() while reconnecting leaves no timer behind either', async () => {
    const home = tempHome();
    const { clock, pending } = countingClock();
    const { link: l } = link(`http://127.0.0.1:${await freePort()}`, 'some-token', home, fakeSessions(), clock);
    await waitFor(() => l.status().state === 'reconnecting' && pending.size > 0, 5_000, 'a backoff sleep');
    await l.close('cli');
    expect(pending.size).toBe(0);
  });

  it('reconnects after the hub restarts and resends its live sessions', async () => {
    const home = tempHome();
    const hubHome = tempHome();
    const port = await freePort();
    const env = { HAPI_HOME: hubHome, HAPI_HUB_GRPC_PORT: String(port), HAPI_HUB_HTTP_PORT: '0' };
    let hub = await startHub({ config: hubConfig(env), paths: hapiPaths(env), log: silentLogger(), shutdownGraceMs: 500 });
    const token = hub.createdOwnerToken!;
    const s = fakeSessions();
    s.live.push(s.mk('kept', '/k'));
    const { link: l } = link(hub.grpcUrl, token, home, s);
    await waitFor(() => l.status().state === 'connected');
    await hub.close();
    await waitFor(() => l.status().state === 'reconnecting', 5_000);
    s.live.push(s.mk('while-away', '/a'));
    hub = await startHub({ config: hubConfig(env), paths: hapiPaths(env), log: silentLogger(), shutdownGraceMs: 500 });
    cleanups.push(() => hub.close());
    await waitFor(() => l.status().state === 'connected', 10_000);
    const c = connectHub(hub.grpcUrl, token);
    cleanups.push(() => c.close());
    await waitFor(async () => (await c.hub.listSessions({ machineId: '', includeEnded: false })).sessions.length === 2);
    expect((await c.hub.listMachines({})).machines[0]).toMatchObject({ online: true });
  });
});
