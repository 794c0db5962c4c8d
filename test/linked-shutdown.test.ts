// A graceful shutdown leaves nothing that keeps the process alive: the real runner linked to a
// real hub exits right after `runner stop` (the hub still hears "shutting-down" first), and so
// do `hapi hub` on SIGTERM with a runner linked and `hapi up` on Ctrl+C. A forgotten timer once
// held every linked stop for 2 s (two uncancelled 2,000 ms sleeps in the hub link's close()):
// the bound below is far above a normal stop (~150 ms) and clearly below that.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerStatus } from '../gen/hapi/common/v1/common.js';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { cleanupAllHomes, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';
import { startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';

/** Far above a normal graceful stop, clearly below the 2 s a leftover 2,000 ms timer adds. */
const EXIT_BOUND_MS = 1_500;

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
  const machineId = await waitFor(() => {
    try {
      return readFileSync(join(th.home, 'machine-id'), 'utf8').trim();
    } catch {
      return undefined;
    }
  }, 10_000, 'machine id file');
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
    const m = await waitMachine(c, machineId, (x) => !x.online);
    expect(m.runnerState).toMatchObject({ status: RunnerStatus.RUNNER_STATUS_SHUTTING_DOWN, shutdownReason: 'cli', pid: state.pid });
  });

  it('`hapi hub` exits promptly on SIGTERM with a runner linked, and the runner keeps running', async () => {
    const { h, state } = await hubAndRunner();
    const t0 = Date.now();
    h.proc.kill('SIGTERM');
    const ms = await exitedAfter(h.proc.pid!, t0);
    expect(ms, `hub exited ${ms} ms after SIGTERM`).toBeLessThan(EXIT_BOUND_MS);
    expect(h.proc.exitCode).toBe(0);
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
    const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)));
    const t0 = Date.now();
    up.kill('SIGINT');
    expect(await exited).toBe(0);
    const ms = Date.now() - t0;
    expect(ms, `hapi up exited ${ms} ms after Ctrl+C`).toBeLessThan(EXIT_BOUND_MS);
    expect(isAlive(runnerPid)).toBe(false);
  });
});
