// A full disk, for real: small tmpfs mounts under a test HAPI_HOME (root only; skipped loudly
// otherwise). The runner keeps serving when its log disk is full, and a full HAPI_HOME makes
// spawns and reports fail with a clear RESOURCE_EXHAUSTED without touching the good registry.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * A process standing in for a terminal session (tagged with the home, so cleanup kills it); its
 * command line names the session id, which the runner requires before it accepts the report.
 */
function loneProcess(th: TestHome, sessionId: string): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', '--', '--hapi-session-id', sessionId], {
    env: th.env,
    stdio: 'ignore',
    detached: true,
  });
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
    const a = loneProcess(th, 'disk-full-a');
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
    // hapi doctor names the failing log writes and what to do.
    const doctor = await th.cli(['doctor', '--json']);
    expect(doctor.code).toBe(1);
    expect(JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'log-writes')).toMatchObject({ status: 'fail', fix: expect.stringContaining('df -h') });
    // The runner keeps serving every call.
    const b = loneProcess(th, 'disk-full-b');
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

type RunnerClient = ReturnType<typeof createClient<typeof RunnerServiceDefinition>>;

function runnerClient(th: TestHome): { client: RunnerClient; close(): void } {
  const channel = createUdsChannel(th.state()!.socketPath);
  return { client: createClient(RunnerServiceDefinition, channel), close: () => channel.close() };
}

function spec(directory: string) {
  return { spec: { directory, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } };
}

async function spawnSessions(th: TestHome, directory: string, n: number): Promise<{ id: string; pid: number; startTime: string }[]> {
  const { client, close } = runnerClient(th);
  try {
    const results = await Promise.all(Array.from({ length: n }, () => client.spawnSession(spec(directory))));
    return results.map((r) => {
      const s = r.outcome!.result!.$case === 'session' ? r.outcome!.result!.value : undefined;
      return { id: s!.id, pid: s!.pid, startTime: processStartTime(s!.pid)! };
    });
  } finally {
    close();
  }
}

interface Listed {
  sessionId: string;
  pid: number;
  startedBy: string;
}

async function listJson(th: TestHome): Promise<Listed[]> {
  const r = await th.cli(['runner', 'list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).sessions as Listed[];
}

async function killRunner(th: TestHome): Promise<void> {
  const pid = th.state()!.pid;
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), 10_000, 'runner killed');
}

/** Live session processes of this home spawned by a runner (their argv names the session id). */
function runnerSessionProcesses(th: TestHome): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const runnerSpawned = argv.includes('--hapi-session-id') && argv[argv.indexOf('--started-by') + 1] === 'runner';
      if (env.includes(`HAPI_HOME=${th.home}`) && runnerSpawned && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids.sort((a, b) => a - b);
}

describe.skipIf(!isRoot)('a full HAPI_HOME', () => {
  it('spawns and reports fail with a disk-full RESOURCE_EXHAUSTED, the registry stays intact, a new runner re-adopts every session', async () => {
    const th = home();
    const disk = mountTmpfs(th.home, 1024 * 1024);
    // Runner and session logs on their own mount: only the registry competes for HAPI_HOME's space.
    mountTmpfs(join(th.home, 'logs'), 16 * 1024 * 1024);
    // Long directory names make registry entries large: a few sessions fill more than a page.
    const dir = join(tmpdir(), `hapi-disk-full-${process.pid}-${'d'.repeat(220)}`);
    mkdirSync(dir, { recursive: true });
    dirs.push(dir);
    await startRunner(th);
    const spawned = await spawnSessions(th, dir, 8);
    const registryFile = join(th.home, 'runner.sessions.json');
    const good = readFileSync(registryFile, 'utf8');
    expect(Buffer.byteLength(good)).toBeGreaterThan(4096 + 512);

    // One page left: the old atomic write stored a truncated 4096-byte prefix here.
    disk.fillLeaving(4096);
    const { client, close } = runnerClient(th);
    try {
      const err = await client.spawnSession(spec(dir)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).code).toBe(Status.RESOURCE_EXHAUSTED);
      expect((err as ClientError).details).toMatch(/disk full/);
    } finally {
      close();
    }
    const viaHttp = await post(th, '/spawn-session', { directory: dir });
    expect(viaHttp.status).toBe(507);
    expect(viaHttp.body).toMatchObject({ success: false, code: 'ResourceExhausted', reason: 'disk-full' });
    expect(viaHttp.body.error).toMatch(/disk full/);
    const terminal = loneProcess(th, 'terminal-on-full-disk');
    const report = await post(th, '/session-started', { sessionId: 'terminal-on-full-disk', metadata: { hostPid: terminal, startedBy: 'terminal' } });
    expect(report.status).toBe(507);
    expect(report.body.error).toMatch(/disk full/);

    // Nothing half-recorded: the file is the good one, no temp file is left, the failed spawns
    // left no process, and the runner lists exactly what it had.
    expect(readFileSync(registryFile, 'utf8')).toBe(good);
    expect(readdirSync(th.home).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(runnerSessionProcesses(th)).toEqual(spawned.map((s) => s.pid).sort((a, b) => a - b));
    expect((await listJson(th)).map((s) => s.sessionId).sort()).toEqual(spawned.map((s) => s.id).sort());

    // Space returns; after a kill -9, a new runner re-adopts every live session, unchanged.
    disk.free();
    await killRunner(th);
    await startRunner(th);
    const listed = await listJson(th);
    expect(listed.map((s) => s.sessionId).sort()).toEqual(spawned.map((s) => s.id).sort());
    for (const s of spawned) {
      expect(listed.find((l) => l.sessionId === s.id)?.pid).toBe(s.pid);
      expect(processStartTime(s.pid)).toBe(s.startTime);
    }
  });
});

describe('a session registry that cannot be parsed', () => {
  it('is kept aside and logged, and the runner finds the live sessions of this HAPI_HOME from their processes', async () => {
    const th = home();
    await startRunner(th);
    const spawned = await spawnSessions(th, th.home, 2);
    const terminal = th.spawnCli([]);
    const term = await waitFor(async () => (await listJson(th)).find((s) => s.pid === terminal.pid), 20_000, 'terminal session listed');
    const registryFile = join(th.home, 'runner.sessions.json');
    const full = readFileSync(registryFile, 'utf8');
    expect(full).toContain(term.sessionId);

    await killRunner(th);
    // A truncated prefix, as a short write once left it.
    const truncated = full.slice(0, Math.floor(full.length / 2));
    writeFileSync(registryFile, truncated);
    await startRunner(th);

    const listed = await listJson(th);
    expect(listed.map((s) => `${s.sessionId} ${s.pid} ${s.startedBy}`).sort()).toEqual(
      [...spawned.map((s) => `${s.id} ${s.pid} runner`), `${term.sessionId} ${terminal.pid} terminal`].sort(),
    );
    const aside = readdirSync(th.home).filter((f) => f.startsWith('runner.sessions.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(th.home, aside[0]!), 'utf8')).toBe(truncated);
    const log = readFileSync(th.state()!.runnerLogPath, 'utf8');
    expect(log).toContain(aside[0]);
    expect(JSON.parse(readFileSync(registryFile, 'utf8')).sessions).toHaveLength(3);
    // And the new runner controls them.
    const stop = await th.cli(['runner', 'stop-session', term.sessionId]);
    expect(stop.stdout).toContain('stopped');
    expect(spawned.every((s) => processStartTime(s.pid) === s.startTime)).toBe(true);
  });
});
