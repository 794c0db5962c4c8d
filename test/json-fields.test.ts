// Every documented JSON field is present, also at its default value (proto3 JSON would leave
// it out): an offline machine has `online: false`, an ended session its exit code and every
// other key, in the REST view, its event stream and the CLI's --json output.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { RunnerStatus, SessionState, StartedBy, type Session } from '../gen/hapi/common/v1/common.js';
import { cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';
import { rest, simRunner, startHubProcess, waitMachine, type HubProcess, type SimRunner } from './hub-helpers.js';
import { loadSchema } from './json-schema.js';

/** The keys README's "JSON output" documents. */
const MACHINE_KEYS = ['id', 'metadata', 'metadataVersion', 'runnerState', 'runnerStateVersion', 'online', 'lastAlive', 'onlineSince'];
const METADATA_KEYS = ['hostname', 'platform', 'arch', 'cliVersion', 'displayName', 'homeDir', 'agents'];
const RUNNER_STATE_KEYS = ['status', 'pid', 'startedAt', 'shutdownReason', 'lastSpawnError', 'httpPort', 'lostAt'];
const SESSION_KEYS = ['id', 'pid', 'startedBy', 'directory', 'agent', 'startedAt', 'state', 'endedAt', 'exitCode', 'exitSignal', 'worktree', 'machineId', 'lastOutputAt', 'lastLine', 'activity'];

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
const runners: SimRunner[] = [];
afterEach(async () => {
  for (const r of runners.splice(0)) r.cancel();
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

function session(id: string, extra: Partial<Session> = {}): Session {
  return {
    id,
    pid: 1000,
    startedBy: StartedBy.STARTED_BY_RUNNER,
    directory: '/tmp/x',
    agent: 'claude',
    startedAt: new Date(),
    state: SessionState.SESSION_STATE_RUNNING,
    exitSignal: '',
    machineId: '',
    lastLine: '',
    ...extra,
  };
}

function expectOfflineMachine(m: Record<string, any>, what: string): void {
  expect(Object.keys(m).sort(), what).toEqual([...MACHINE_KEYS].sort());
  expect(m.online, what).toBe(false);
  expect(Object.keys(m.metadata).sort(), what).toEqual([...METADATA_KEYS].sort());
  // A runner that published no pid, port or error: the defaults are there, not missing.
  expect(m.metadata.agents, what).toEqual([]);
  expect(m.metadata.homeDir, what).toBe('');
  expect(Object.keys(m.runnerState).sort(), what).toEqual([...RUNNER_STATE_KEYS].sort());
  expect(m.runnerState, what).toMatchObject({ pid: 0, httpPort: 0, lastSpawnError: '', shutdownReason: '', startedAt: null });
}

function expectEndedSession(s: Record<string, any>, what: string, ended = 'SESSION_STATE_ENDED'): void {
  expect(Object.keys(s).sort(), what).toEqual([...SESSION_KEYS].sort());
  expect(s, what).toMatchObject({ id: 's-ended', state: ended, exitCode: 0, exitSignal: '', worktree: null, pid: 1000, activity: null });
}

/** The first `event: machine` of the hub's event stream whose machine satisfies `pred`. */
function machineEvent(httpUrl: string, token: string, pred: (m: Record<string, any>) => boolean): { ready: Promise<void>; event: Promise<Record<string, any>>; close(): void } {
  let close = () => {};
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const event = new Promise<Record<string, any>>((resolve, reject) => {
    const req = request(`${httpUrl}/api/v1/events`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let buf = '';
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes(': connected')) ready();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: machine$/m.test(block) && data) {
            const m = JSON.parse(data) as Record<string, any>;
            if (pred(m)) resolve(m);
          }
        }
      });
    });
    req.on('error', reject);
    req.end();
    close = () => req.destroy();
  });
  return { ready: readyP, event, close };
}

describe('JSON output has every documented field', () => {
  it('an offline machine and an ended session, in REST, the event stream and the CLI', async () => {
    const th = createTestHome();
    homes.push(th);
    const h = await startHubProcess(th);
    hubs.push(h);
    const r = simRunner({ url: h.grpcUrl, token: h.ownerToken, machineId: 'm-json', sessions: [session('s-live')] });
    runners.push(r);
    await r.welcome;
    // A runner state with nothing but its status, and metadata without agents or home.
    r.send({ $case: 'updateRunnerState', value: { expectedVersion: 1, runnerState: { status: RunnerStatus.RUNNER_STATUS_RUNNING, pid: 0, shutdownReason: '', lastSpawnError: '', httpPort: 0 } } });
    r.send({ $case: 'updateMetadata', value: { expectedVersion: 1, metadata: { hostname: 'm-json', platform: 'linux', arch: 'x64', cliVersion: 't', displayName: 'm-json', homeDir: '', agents: [] } } });
    r.send({ $case: 'sessionEvent', value: { type: 1, session: session('s-ended') } });
    r.send({ $case: 'sessionEvent', value: { type: 2, session: session('s-ended', { state: SessionState.SESSION_STATE_ENDED, endedAt: new Date(), exitCode: 0 }) } });
    const c = h.clients();
    await waitFor(async () => {
      const all = await c.hub.listSessions({ machineId: '', includeEnded: true });
      return all.sessions.find((s) => s.id === 's-ended')?.state === SessionState.SESSION_STATE_ENDED;
    }, 10_000, 'the session to end');
    await waitMachine(c, 'm-json', (m) => m.runnerStateVersion === 2 && m.metadataVersion === 2);

    const stream = machineEvent(h.httpUrl, h.ownerToken, (m) => m.id === 'm-json' && m.online === false);
    await stream.ready;
    r.cancel();
    await waitMachine(c, 'm-json', (m) => !m.online);

    try {
      expectOfflineMachine(await stream.event, 'event stream');
    } finally {
      stream.close();
    }

    const machines = await rest(h.httpUrl, h.ownerToken, '/api/v1/machines');
    expect(machines.status).toBe(200);
    expect(machines.json.machines).toHaveLength(1);
    expectOfflineMachine(machines.json.machines[0], 'REST machines');
    expect(machines.json.machines.filter((m: { online: boolean }) => m.online === false)).toHaveLength(1);

    const sessions = await rest(h.httpUrl, h.ownerToken, '/api/v1/sessions?includeEnded=true');
    expect(sessions.status).toBe(200);
    expectEndedSession(sessions.json.sessions.find((s: { id: string }) => s.id === 's-ended'), 'REST sessions');

    const env = { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken };
    const cliMachines = await th.cli(['machines', '--json'], { env });
    expect(cliMachines.code, cliMachines.stderr).toBe(0);
    expectOfflineMachine(JSON.parse(cliMachines.stdout).machines[0], 'hapi machines --json');
    const cliSessions = await th.cli(['sessions', '--all', '--json'], { env });
    expect(cliSessions.code, cliSessions.stderr).toBe(0);
    expectEndedSession(JSON.parse(cliSessions.stdout).sessions.find((s: { id: string }) => s.id === 's-ended'), 'hapi sessions --json', 'ended');
  });

  it('`hapi runner status --json` without a runner has every key of a running one', async () => {
    const th = createTestHome();
    homes.push(th);
    const st = await th.cli(['runner', 'status', '--json']);
    expect(Object.keys(JSON.parse(st.stdout)).sort()).toEqual(Object.keys(loadSchema('runner-status.schema.json').properties as object).sort());
    expect(JSON.parse(st.stdout)).toMatchObject({ running: false, pid: null });
  });
});
