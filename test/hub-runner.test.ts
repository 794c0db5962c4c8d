// The real runner daemon linked to a real hub process: registration, presence under SIGSTOP,
// spawn/stop through the hub with the fixture agent, reconnect after a hub restart, and
// stop-runner relayed from the hub. Each side has its own HAPI_HOME.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status } from 'nice-grpc';
import { RunnerStatus, SessionState, StopSessionResult } from '../gen/hapi/common/v1/common.js';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, isAlive, waitFor, type TestHome } from './harness.js';
import { machineIdOf } from './runner-calls.js';
import { rest, startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
const stopped: number[] = [];

afterEach(async () => {
  for (const pid of stopped.splice(0)) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

async function hubHome(env: NodeJS.ProcessEnv = {}) {
  const th = createTestHome();
  homes.push(th);
  const h = await startHubProcess(th, env);
  hubs.push(h);
  return { th, h };
}

async function machineHome(h: HubProcess, token = h.ownerToken) {
  const th = createTestHome({
    HAPI_API_URL: h.grpcUrl,
    CLI_API_TOKEN: token,
    HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}`,
  });
  homes.push(th);
  const r = await th.cli(['runner', 'start']);
  expect(r.code, r.stderr).toBe(0);
  const machineId = await machineIdOf(th.home);
  return { th, machineId, pid: th.state()!.pid };
}

describe('real runner with the hub', () => {
  it('registers online, reports the link in `hapi runner status`, and goes offline under SIGSTOP within the timeout', async () => {
    const { h } = await hubHome({ HAPI_HUB_ALIVE_TIMEOUT_MS: '1500' });
    const c = h.clients();
    const m = await machineHome(h);
    expect((readFileSync(join(m.th.home, 'machine-id')).length)).toBeGreaterThan(30);
    const machine = await waitMachine(c, m.machineId, (x) => x.online);
    expect(machine.runnerState).toMatchObject({ status: RunnerStatus.RUNNER_STATUS_RUNNING, pid: m.pid });
    expect(machine.metadata?.cliVersion).toBeTruthy();

    const status = await m.th.cli(['runner', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).hubLink).toMatchObject({ state: 'connected', machineId: m.machineId, namespace: 'default' });

    // Stays online across several alive periods.
    const holdUntil = Date.now() + 2_500;
    while (Date.now() < holdUntil) {
      expect((await c.hub.listMachines({})).machines[0]?.online).toBe(true);
      await new Promise((r) => setTimeout(r, 250));
    }

    process.kill(m.pid, 'SIGSTOP');
    stopped.push(m.pid);
    // Offline by the alive timeout (1.5 s here), not by TCP, which would take hours for a stopped
    // process; the bound is loose for a busy machine.
    await waitMachine(c, m.machineId, (x) => !x.online, 10_000);

    // Resumed, it reconnects by itself.
    process.kill(m.pid, 'SIGCONT');
    await waitMachine(c, m.machineId, (x) => x.online, 15_000);
  });

  it('spawns and stops a session through the hub with the fixture agent', async () => {
    const { h } = await hubHome();
    const c = h.clients();
    const m = await machineHome(h);
    await waitMachine(c, m.machineId, (x) => x.online);
    const spec = { directory: m.th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] };
    const r = await c.hub.spawnSession({ machineId: m.machineId, spec });
    expect(r.outcome?.result?.$case).toBe('session');
    const s = (r.outcome!.result as { value: { id: string; pid: number; machineId: string } }).value;
    expect(s.machineId).toBe(m.machineId);
    expect(isAlive(s.pid)).toBe(true);
    const listed = await c.hub.listSessions({ machineId: m.machineId, includeEnded: false });
    expect(listed.sessions.map((x) => x.id)).toContain(s.id);

    // Approval required travels end to end.
    const missing = join(m.th.home, 'does', 'not', 'exist');
    const approval = await c.hub.spawnSession({ machineId: m.machineId, spec: { ...spec, directory: missing } });
    expect(approval.outcome?.result).toEqual({ $case: 'approvalRequired', value: { directory: missing, actionRequired: 'CREATE_DIRECTORY' } });
    // The runner's own errors keep their status code and message (an unknown agent name).
    await expect(c.hub.spawnSession({ machineId: m.machineId, spec: { ...spec, agent: 'no-such-agent' } })).rejects.toMatchObject({
      code: Status.INVALID_ARGUMENT,
      details: expect.stringContaining('no-such-agent'),
    });

    expect((await c.hub.stopSession({ machineId: m.machineId, sessionId: s.id })).result).toBe(StopSessionResult.STOP_SESSION_RESULT_STOPPED);
    await waitFor(() => !isAlive(s.pid), 10_000, 'session process to exit');
    await waitFor(async () => {
      const all = await c.hub.listSessions({ machineId: m.machineId, includeEnded: true });
      return all.sessions.find((x) => x.id === s.id)?.state === SessionState.SESSION_STATE_ENDED;
    }, 10_000, 'session ended on the hub');
    await expect(c.hub.stopSession({ machineId: m.machineId, sessionId: 'nope' })).rejects.toMatchObject({ code: Status.NOT_FOUND });
  });

  it('reconnects after a hub restart, and stops when the hub relays stop-runner', async () => {
    const th = createTestHome();
    homes.push(th);
    let h = await startHubProcess(th, { HAPI_HUB_GRPC_PORT: '0' });
    hubs.push(h);
    const owner = h.ownerToken;
    const grpcPort = new URL(h.grpcUrl).port;
    const m = await machineHome(h);
    let c = h.clients();
    await waitMachine(c, m.machineId, (x) => x.online);
    expect(await h.stop('SIGTERM')).toBe(0);
    // Same port again so the runner's HAPI_API_URL still points at it.
    h = await startHubProcess(th, { HAPI_HUB_GRPC_PORT: grpcPort }, owner);
    hubs.push(h);
    c = h.clients();
    await waitMachine(c, m.machineId, (x) => x.online, 20_000);
    expect((await c.hub.listMachines({})).machines).toHaveLength(1);
    expect((await c.hub.getRunnerStatus({ machineId: m.machineId })).pid).toBe(m.pid);

    await c.hub.stopRunner({ machineId: m.machineId });
    await waitFor(() => !isAlive(m.pid), 15_000, 'runner to exit');
    const after = await waitMachine(c, m.machineId, (x) => !x.online, 5_000);
    expect(after.runnerState).toMatchObject({ status: RunnerStatus.RUNNER_STATUS_SHUTTING_DOWN, shutdownReason: 'hub' });
  });

  it('a runner killed with -9 reads lost since a time, not running, in gRPC, REST and `hapi machines`', async () => {
    const { h } = await hubHome();
    const c = h.clients();
    const m = await machineHome(h);
    const before = await waitMachine(c, m.machineId, (x) => x.online);
    expect(before.runnerState?.status).toBe(RunnerStatus.RUNNER_STATUS_RUNNING);

    const t0 = Date.now();
    process.kill(m.pid, 'SIGKILL');
    const lost = await waitMachine(c, m.machineId, (x) => !x.online, 10_000);
    expect(lost.runnerState).toMatchObject({ status: RunnerStatus.RUNNER_STATUS_LOST, pid: m.pid });
    expect(lost.runnerState!.lostAt!.getTime()).toBeGreaterThanOrEqual(t0 - 1_000);
    expect(lost.runnerStateVersion).toBeGreaterThan(before.runnerStateVersion);

    const r = await rest(h.httpUrl, h.ownerToken, '/api/v1/machines');
    expect(r.json.machines[0].runnerState).toMatchObject({ status: 'RUNNER_STATUS_LOST', pid: m.pid, lostAt: lost.runnerState!.lostAt!.toISOString() });

    const cliEnv = { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken };
    const json = await m.th.cli(['machines', '--json'], { env: cliEnv });
    expect(JSON.parse(json.stdout).machines[0].runnerState).toMatchObject({ status: 'lost', pid: m.pid });
    const table = await m.th.cli(['machines'], { env: cliEnv });
    expect(table.stdout).toMatch(new RegExp(`offline\\s+lost \\d+s ago, last pid ${m.pid}`));

    // Started again, it is running again.
    expect((await m.th.cli(['runner', 'start'])).code).toBe(0);
    const again = await waitMachine(c, m.machineId, (x) => x.online && x.runnerState?.status === RunnerStatus.RUNNER_STATUS_RUNNING, 15_000);
    expect(again.runnerState?.lostAt).toBeUndefined();
  });
});
