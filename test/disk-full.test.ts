// A full disk, for real: small tmpfs mounts under a test HAPI_HOME (root only; skipped loudly
// otherwise). The runner keeps serving when its log disk is full, and a full HAPI_HOME makes
// spawns and reports fail with a clear RESOURCE_EXHAUSTED without touching the good registry.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, ClientError, Status } from 'nice-grpc';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { processStartTime } from '../src/shared/proc.js';
import { FIXTURE_AGENT, cleanupAllHomes, createTestHome, isAlive, killProcessesOfHome, waitFor, type TestHome } from './harness.js';
import { fillFileSlack, isRoot, mountTmpfs, unmountAll, warnIfNotRoot } from './tmpfs.js';

warnIfNotRoot('test/disk-full.test.ts');

const homes: TestHome[] = [];
const dirs: string[] = [];

afterEach(async () => {
  // Processes first (they hold files open on the mounts), then the mounts, then the homes.
  for (const th of homes) await killProcessesOfHome(th.home);
  unmountAll();
  for (const th of homes.splice(0)) await th.cleanup();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
afterAll(async () => {
  unmountAll();
  await cleanupAllHomes();
});

function home(): TestHome {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
  homes.push(th);
  return th;
}

async function startRunner(th: TestHome): Promise<void> {
  const r = await th.cli(['runner', 'start']);
  expect(r.code, r.stderr).toBe(0);
}

/** A process standing in for a terminal session (tagged with the home, so cleanup kills it). */
function loneProcess(th: TestHome): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { env: th.env, stdio: 'ignore', detached: true });
  child.unref();
  return child.pid!;
}

async function post(th: TestHome, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const state = th.state()!;
  const res = await fetch(`http://127.0.0.1:${state.httpPort}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${state.controlToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function statusJson(th: TestHome): Promise<any> {
  const r = await th.cli(['runner', 'status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe.skipIf(!isRoot)('a full log disk', () => {
  it('never stops the runner: failed log writes are dropped and counted, status shows them, stop is clean', async () => {
    const th = home();
    const logs = mountTmpfs(join(th.home, 'logs'), 1024 * 1024);
    await startRunner(th);
    const runnerPid = th.state()!.pid;
    const logPath = th.state()!.runnerLogPath;
    expect(logPath.startsWith(logs.dir)).toBe(true);

    logs.fill();
    fillFileSlack(logPath);
    // Each of these logs a line the full disk refuses.
    const a = loneProcess(th);
    expect(await post(th, '/session-started', { sessionId: 'disk-full-a', metadata: { hostPid: a, startedBy: 'terminal' } })).toMatchObject({
      status: 200,
    });
    expect(await post(th, '/stop-session', { sessionId: 'disk-full-a' })).toMatchObject({ status: 200, body: { success: true } });
    await waitFor(() => !isAlive(a), 10_000, 'session to stop');

    expect(isAlive(runnerPid)).toBe(true);
    const s = await statusJson(th);
    expect(s.pid).toBe(runnerPid);
    expect(s.logWrites).toMatchObject({ failing: true, lastError: 'ENOSPC' });
    expect(s.logWrites.droppedLines).toBeGreaterThan(0);
    const text = await th.cli(['runner', 'status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('log writes failing: ENOSPC');
    // The runner keeps serving every call.
    const b = loneProcess(th);
    expect((await post(th, '/session-started', { sessionId: 'disk-full-b', metadata: { hostPid: b, startedBy: 'terminal' } })).status).toBe(200);
    expect((await th.cli(['runner', 'list'])).stdout).toContain('disk-full-b');

    // Space comes back: the next lines are written again.
    logs.free();
    expect(await post(th, '/stop-session', { sessionId: 'disk-full-b' })).toMatchObject({ status: 200 });
    const after = await statusJson(th);
    expect(after.logWrites.failing).toBe(false);
    expect(readFileSync(logPath, 'utf8')).toContain('"sessionId":"disk-full-b"');

    // A clean stop: no stale lock, state or socket left behind.
    const stop = await th.cli(['runner', 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
    await waitFor(() => !isAlive(runnerPid), 10_000, 'runner to exit');
    expect(existsSync(join(th.home, 'runner.state.json.lock'))).toBe(false);
    expect(existsSync(join(th.home, 'runner.state.json'))).toBe(false);
  });
});
