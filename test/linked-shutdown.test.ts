// A graceful shutdown leaves nothing that keeps the process alive: the real runner linked to a
// real hub exits right after `runner stop` (the hub still hears "shutting-down" first), and so
// do `hapi hub` on SIGTERM with a runner linked and `hapi up` on Ctrl+C. A forgotten timer once
// held every linked stop for 2 s (two uncancelled 2,000 ms sleeps in the hub link's close()).
// Each program's last log line counts the referenced timers still pending when it has stopped:
// it must be 0, which does not depend on how busy the machine is. The time bound is only a
// sanity check (a stop is ~150 ms; the time itself is measured in bench/runner.mjs).
import { readFileSync } from 'node:fs';
import { createClient } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerStatus } from '../gen/hapi/common/v1/common.js';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { cleanupAllHomes, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';
import { machineIdOf } from './runner-calls.js';
import { startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';

/** A sanity bound, far above a normal graceful stop even on a loaded machine. */
const EXIT_BOUND_MS = 10_000;

/** The `pendingTimers` of the last "<what> stopped" record in JSON-lines or human-readable logs. */
function pendingTimersAtStop(log: string, what: 'runner' | 'hub'): number | undefined {
  const lines = log.split('\n').filter((l) => l.includes(`${what} stopped`));
  const last = lines.at(-1);
  if (!last) return undefined;
  const m = /"pendingTimers":(\d+)|pendingTimers=(\d+)/.exec(last);
  return m ? Number(m[1] ?? m[2]) : undefined;
}

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

async function hubAndRunner() {
  const hubTh = createTestHome();
  homes.push(hubTh);
  const h = await startHubProcess(hubTh);
  hubs.push(h);
  const th = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken });
  homes.push(th);
  const r = await th.cli(['runner', 'start']);
  expect(r.code, r.stderr).toBe(0);
  const machineId = await machineIdOf(th.home);
  const c = h.clients();
  await waitMachine(c, machineId, (m) => m.online);
  return { h, th, c, machineId, state: th.state()! };
}

/** Time from `since` until `pid` is gone (polled every 25 ms). */
async function exitedAfter(pid: number, since: number): Promise<number> {
  await waitFor(() => !isAlive(pid), 10_000, `PID ${pid} to exit`);
  return Date.now() - since;
}

describe('linked shutdown leaves no timer behind', () => {
  it('a runner linked to a hub exits promptly after a stop request, the hub having seen shutting-down first', async () => {
    const { c, machineId, state } = await hubAndRunner();
    const channel = createUdsChannel(state.socketPath);
    const t0 = Date.now();
    try {
      await createClient(RunnerServiceDefinition, channel).stopRunner({ reason: 'cli' });
    } finally {
      channel.close();
    }
    const ms = await exitedAfter(state.pid, t0);
    expect(ms, `runner exited ${ms} ms after the stop request`).toBeLessThan(EXIT_BOUND_MS);
    expect(pendingTimersAtStop(readFileSync(state.runnerLogPath, 'utf8'), 'runner')).toBe(0);
    const m = await waitMachine(c, machineId, (x) => !x.online);
    expect(m.runnerState).toMatchObject({ status: RunnerStatus.RUNNER_STATUS_SHUTTING_DOWN, shutdownReason: 'cli', pid: state.pid });
  });

  it('`hapi hub` exits promptly on SIGTERM with a runner linked, and the runner keeps running', async () => {
    const { h, state } = await hubAndRunner();
    const exited = new Promise<number | null>((r) => (h.proc.exitCode !== null ? r(h.proc.exitCode) : h.proc.once('exit', (code) => r(code))));
    const t0 = Date.now();
    h.proc.kill('SIGTERM');
    // The exit event (not only the PID leaving /proc) sets the exit code.
    expect(await exited).toBe(0);
    const ms = Date.now() - t0;
    expect(ms, `hub exited ${ms} ms after SIGTERM`).toBeLessThan(EXIT_BOUND_MS);
    expect(pendingTimersAtStop(h.stdout() + h.stderr(), 'hub')).toBe(0);
    expect(isAlive(state.pid)).toBe(true);
  });

  it('`hapi up` exits promptly on Ctrl+C, stopping the runner it started', async () => {
    const th = createTestHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0' });
    homes.push(th);
    const up = th.spawnCli(['up']);
    let out = '';
    up.stdout!.on('data', (d) => (out += d));
    up.stderr!.on('data', (d) => (out += d));
    await waitFor(() => /is online/.test(out) && /Ctrl\+C stops/.test(out), 30_000, '`hapi up` to link its runner');
    const runnerPid = th.state()!.pid;
    const runnerLog = th.state()!.runnerLogPath;
    const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)));
    const t0 = Date.now();
    up.kill('SIGINT');
    expect(await exited).toBe(0);
    const ms = Date.now() - t0;
    expect(ms, `hapi up exited ${ms} ms after Ctrl+C`).toBeLessThan(EXIT_BOUND_MS);
    expect(pendingTimersAtStop(out, 'hub')).toBe(0);
    await waitFor(() => !isAlive(runnerPid), 10_000, 'the runner `hapi up` started to exit');
    expect(pendingTimersAtStop(readFileSync(th.state()?.runnerLogPath ?? runnerLog, 'utf8'), 'runner')).toBe(0);
  });
});
