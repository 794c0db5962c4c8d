// The runner daemon's lifecycle, files, gateway and hand-off, with real processes.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createClient } from 'nice-grpc';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { CLI, cleanupAllHomes, copyBuild, createTestHome, isAlive, processesOfHome, waitFor, type TestHome } from './harness.js';

let th: TestHome;
afterEach(async () => {
  await th?.cleanup();
});
afterAll(cleanupAllHomes);

function runnerPids(home: string): number[] {
  return processesOfHome(home).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-sync');
    } catch {
      return false;
    }
  });
}

async function startRunner(t: TestHome, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const r = await t.cli(['runner', 'start', ...args], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const state = t.state();
  expect(state).toBeDefined();
  return { ...r, state: state! };
}

/** A process that lives until killed, tagged with the test's HAPI_HOME so cleanup kills it. */
/** A long-lived process of this home; with a session id it stands in for that session (its command line names it). */
function spawnSleeper(t: TestHome, sessionId?: string): number {
  const args = sessionId ? ['--', '--hapi-session-id', sessionId] : [];
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', ...args], { env: t.env, stdio: 'ignore', detached: true });
  child.unref();
  return child.pid!;
}

interface HttpResult {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

function post(port: number, path: string, body: unknown, headers: Record<string, string> = {}, method = 'POST'): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = request({ host: '127.0.0.1', port, path, method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep text
        }
        resolve({ status: res.statusCode!, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (method !== 'GET') req.end(data);
    else req.end();
  });
}

describe('runner lifecycle', () => {
  it('start, status, stop round trip with documented files and permissions', async () => {
    th = createTestHome();
    const { stdout, state } = await startRunner(th);
    expect(stdout).toMatch(new RegExp(`Runner started \\(PID ${state.pid}\\)`));
    expect(stdout).toContain(`Socket:            ${state.socketPath}`);
    expect(stdout).toContain(`HTTP control port: ${state.httpPort}`);
    // `start` returns only once the runner has finished starting.
    expect(readFileSync(state.runnerLogPath, 'utf8')).toContain('"msg":"runner started"');
    for (const key of ['pid', 'httpPort', 'startTime', 'startedWithCliVersion', 'startedWithCliMtimeMs', 'lastHeartbeat', 'runnerLogPath', 'socketPath', 'controlToken']) {
      expect(state, key).toHaveProperty(key);
    }
    expect(state.runnerLogPath).toMatch(/logs\/runner-\d{8}-\d{6}(-\d+)?\.log$/);
    expect(statSync(join(th.home, 'runner.state.json')).mode & 0o777).toBe(0o600);
    expect(statSync(state.socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(state.socketPath).isSocket()).toBe(true);
    expect(statSync(th.home).mode & 0o777).toBe(0o700);
    const lock = JSON.parse(readFileSync(join(th.home, 'runner.state.json.lock'), 'utf8'));
    expect(lock.pid).toBe(state.pid);
    expect(typeof lock.startTime).toBe('string');

    const status = await th.cli(['runner', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`PID:            ${state.pid}`);
    expect(status.stdout).toContain(`HTTP port:      ${state.httpPort}`);
    expect(status.stdout).toContain(`Socket:         ${state.socketPath}`);
    expect(status.stdout).toContain(`Log file:       ${state.runnerLogPath}`);
    expect(status.stdout).toMatch(/Uptime: +\d+s/);
    expect(status.stdout).toMatch(/CLI version: +0\.1\.0/);
    expect(status.stdout).toContain('Hub link:       not configured');

    const json = await th.cli(['runner', 'status', '--json']);
    const parsed = JSON.parse(json.stdout);
    expect(parsed).toMatchObject({ running: true, ready: true, pid: state.pid, httpPort: state.httpPort, socketPath: state.socketPath, logPath: state.runnerLogPath });
    expect(parsed.hubLink.state).toBe('not-configured');

    const logs = await th.cli(['runner', 'logs']);
    expect(logs.stdout.trim()).toBe(state.runnerLogPath);

    const stop = await th.cli(['runner', 'stop']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe(`Runner stopped (PID ${state.pid})\n`);
    expect(isAlive(state.pid)).toBe(false);
    expect(existsSync(join(th.home, 'runner.state.json'))).toBe(false);
    expect(existsSync(join(th.home, 'runner.state.json.lock'))).toBe(false);
    expect(existsSync(state.socketPath)).toBe(false);
    const log = readFileSync(state.runnerLogPath, 'utf8');
    expect(log).toContain('"reason":"cli"');
  });

  it('a second start says already running and exits 0', async () => {
    th = createTestHome();
    const { state } = await startRunner(th);
    const again = await th.cli(['runner', 'start']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`Runner already running (PID ${state.pid})\n`);
    expect(runnerPids(th.home)).toEqual([state.pid]);
  });

  it('ten concurrent starts leave exactly one runner and no errors', async () => {
    th = createTestHome();
    const results = await Promise.all(Array.from({ length: 10 }, () => th.cli(['runner', 'start'])));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Runner (started|already running) \(PID \d+\)/);
    }
    const pid = th.state()!.pid;
    expect(results.filter((r) => r.stdout.startsWith('Runner started')).length).toBe(1);
    await waitFor(() => runnerPids(th.home).length === 1, 10_000, 'losing runners to exit');
    expect(runnerPids(th.home)).toEqual([pid]);
  });

  it('every command fails clearly when no runner is running', async () => {
    th = createTestHome();
    for (const args of [['runner', 'status'], ['runner', 'stop'], ['runner', 'list'], ['runner', 'stop-session', 'abc']]) {
      const r = await th.cli(args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr, args.join(' ')).toMatch(/^hapi: runner is not running/);
    }
    const json = await th.cli(['runner', 'status', '--json']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ running: false, state: 'not-running' });
  });

  it('rejects a non-numeric heartbeat interval at start', async () => {
    th = createTestHome({ HAPI_RUNNER_HEARTBEAT_INTERVAL: 'often' });
    const r = await th.cli(['runner', 'start']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('HAPI_RUNNER_HEARTBEAT_INTERVAL must be an integer, got "often"');
    expect(runnerPids(th.home)).toEqual([]);
  });
});

describe('graceful shutdown', () => {
  it('finishes even with an open WatchSessions stream, which is ended', async () => {
    th = createTestHome();
    const { state } = await startRunner(th);
    const channel = createUdsChannel(state.socketPath);
    try {
      const client = createClient(RunnerServiceDefinition, channel);
      const events: unknown[] = [];
      const watching = (async () => {
        for await (const e of client.watchSessions({})) events.push(e);
        return 'ended';
      })();
      await waitFor(async () => (await client.getStatus({})).pid === state.pid, 5_000, 'status');
      const stop = await th.cli(['runner', 'stop']);
      expect(stop.stdout).toBe(`Runner stopped (PID ${state.pid})\n`);
      // Ended by the runner (or cut when it exited), never left hanging.
      await expect(Promise.race([watching.catch(() => 'ended'), new Promise((r) => setTimeout(() => r('hung'), 5_000))])).resolves.toBe('ended');
      expect(isAlive(state.pid)).toBe(false);
    } finally {
      channel.close();
    }
  });
});

describe('recovery from stale files', () => {
  it('takes over a lock whose PID is dead, and one whose PID was reused', async () => {
    th = createTestHome();
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('exit', r));
    writeFileSync(join(th.home, 'runner.state.json.lock'), JSON.stringify({ pid: dead.pid, startTime: '1' }));
    const first = await startRunner(th);
    await th.cli(['runner', 'stop']);
    // A live PID with a different start time is a reused PID: stale.
    writeFileSync(join(th.home, 'runner.state.json.lock'), JSON.stringify({ pid: process.pid, startTime: 'not-the-real-one' }));
    const second = await startRunner(th);
    expect(second.state.pid).not.toBe(first.state.pid);
  });

  it('never steals a live lock', async () => {
    th = createTestHome({ HAPI_RUNNER_HTTP_TIMEOUT: '1000' });
    const holder = spawnSleeper(th);
    const startTime = readFileSync(`/proc/${holder}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    const lockText = JSON.stringify({ pid: holder, startTime });
    writeFileSync(join(th.home, 'runner.state.json.lock'), lockText);
    const r = await th.cli(['runner', 'start']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`runner PID ${holder} holds the lock`);
    expect(readFileSync(join(th.home, 'runner.state.json.lock'), 'utf8')).toBe(lockText);
  });

  it('replaces a stale socket file left by a killed process', async () => {
    th = createTestHome();
    const sock = join(th.home, 'runner.sock');
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { env: th.env });
    await new Promise((r) => holder.stdout!.once('data', r));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('exit', r));
    expect(existsSync(sock)).toBe(true);
    const { state } = await startRunner(th);
    expect(state.socketPath).toBe(sock);
  });

  it('treats a corrupt state file as stale, not a crash', async () => {
    th = createTestHome();
    writeFileSync(join(th.home, 'runner.state.json'), '{"pid": 12');
    const status = await th.cli(['runner', 'status']);
    expect(status.code).toBe(3);
    expect(status.stderr).toContain('stale state left by dead runner; cleaned up');
    expect(existsSync(join(th.home, 'runner.state.json'))).toBe(false);
    await startRunner(th);
  });

  it('after SIGKILL the logs remain, status cleans the stale state and the next start works', async () => {
    th = createTestHome();
    const { state } = await startRunner(th);
    process.kill(state.pid, 'SIGKILL');
    await waitFor(() => !isAlive(state.pid), 5_000, 'runner to die');
    const logs = await th.cli(['runner', 'logs']);
    expect(logs.stdout.trim()).toBe(state.runnerLogPath);
    expect(readFileSync(state.runnerLogPath, 'utf8')).toContain('runner started');
    const status = await th.cli(['runner', 'status']);
    expect(status.code).toBe(3);
    expect(status.stderr).toContain(`stale state left by dead runner PID ${state.pid}; cleaned up`);
    expect(existsSync(join(th.home, 'runner.state.json.lock'))).toBe(false);
    const next = await startRunner(th);
    expect(next.state.pid).not.toBe(state.pid);
  });

  it('SIGTERM shuts down gracefully and removes state, lock and socket', async () => {
    th = createTestHome();
    const { state } = await startRunner(th);
    process.kill(state.pid, 'SIGTERM');
    await waitFor(() => !isAlive(state.pid), 10_000, 'runner to exit');
    expect(existsSync(join(th.home, 'runner.state.json'))).toBe(false);
    expect(existsSync(join(th.home, 'runner.state.json.lock'))).toBe(false);
    expect(existsSync(state.socketPath)).toBe(false);
    expect(readFileSync(state.runnerLogPath, 'utf8')).toContain('"reason":"os-signal"');
  });
});

describe('heartbeat and version hand-off', () => {
  it('writes lastHeartbeat, and hands off to a new runner when the CLI file changes', async () => {
    th = createTestHome({ HAPI_RUNNER_HEARTBEAT_INTERVAL: '300' });
    // Run from a private copy of the build so touching it affects only this test.
    const cli = copyBuild(th.home);
    const r = await th.cli(['runner', 'start'], { cliPath: cli });
    expect(r.code).toBe(0);
    const first = th.state()!;
    expect(readFileSync(first.runnerLogPath, 'utf8')).toContain('below 10000 ms');
    const beat1 = first.lastHeartbeat;
    await waitFor(() => th.state()?.lastHeartbeat !== beat1, 10_000, 'a heartbeat');

    const future = new Date(Date.now() + 60_000);
    utimesSync(cli, future, future);
    const second = await waitFor(() => {
      const s = th.state();
      return s && s.pid !== first.pid ? s : undefined;
    }, 30_000, 'a new runner PID');
    await waitFor(() => !isAlive(first.pid), 10_000, 'old runner to exit');
    expect(second.startedWithCliMtimeMs).toBe(statSync(cli).mtimeMs);
    expect(readFileSync(first.runnerLogPath, 'utf8')).toContain('version mismatch');
    const status = await th.cli(['runner', 'status', '--json'], { cliPath: cli });
    expect(JSON.parse(status.stdout).pid).toBe(second.pid);
    expect(runnerPids(th.home)).toEqual([second.pid]);
  });
});

describe('HTTP gateway', () => {
  it('serves the documented endpoints with their documented shapes', async () => {
    th = createTestHome();
    const { state } = await startRunner(th);
    const auth = { authorization: `Bearer ${state.controlToken}` };
    const port = state.httpPort;

    expect(await post(port, '/list', {}, auth)).toMatchObject({ status: 200, body: { children: [] } });

    const pid = spawnSleeper(th, 'abc-123-def');
    const started = await post(port, '/session-started', { sessionId: 'abc-123-def', metadata: { hostPid: pid, startedBy: 'terminal' } }, auth);
    expect(started).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(readFileSync(state.runnerLogPath, 'utf8')).toContain('Session reported');

    const list = await post(port, '/list', {}, auth);
    expect(list.body).toEqual({ children: [{ startedBy: 'hapi directly - likely by user from terminal', happySessionId: 'abc-123-def', pid }] });
    const cli = await th.cli(['runner', 'list']);
    expect(cli.stdout).toBe(`Active Sessions (1):\n  - Session: abc-123-def  PID: ${pid}  Started by: hapi directly - likely by user from terminal\n`);

    expect(await post(port, '/stop-session', { sessionId: 'abc-123-def' }, auth)).toMatchObject({ status: 200, body: { success: true } });
    await waitFor(() => !isAlive(pid), 10_000, 'session to stop');
    const unknown = await post(port, '/stop-session', { sessionId: 'nope' }, auth);
    expect(unknown.status).toBe(404);
    expect(unknown.body.success).toBe(false);

    expect(await post(port, '/stop', {}, auth)).toMatchObject({ status: 200, body: { status: 'stopping' } });
    await waitFor(() => !isAlive(state.pid), 10_000, 'runner to stop');
    expect(existsSync(join(th.home, 'runner.state.json'))).toBe(false);
  });

  it('rejects every bad request class and keeps running', async () => {
    th = createTestHome();
    const { state } = await startRunner(th);
    const port = state.httpPort;
    const auth = { authorization: `Bearer ${state.controlToken}` };
    const cases: Array<[string, Promise<HttpResult>, number, RegExp]> = [
      ['no token', post(port, '/list', {}), 401, /bearer token/],
      ['wrong token', post(port, '/list', {}, { authorization: 'Bearer nope' }), 401, /bearer token/],
      ['origin', post(port, '/list', {}, { ...auth, origin: 'http://evil.example' }), 403, /Origin or Referer/],
      ['referer', post(port, '/list', {}, { ...auth, referer: 'http://evil.example/x' }), 403, /Origin or Referer/],
      ['host', post(port, '/list', {}, { ...auth, host: `evil.example:${port}` }), 403, /Host/],
      ['content type', post(port, '/list', {}, { ...auth, 'content-type': 'text/plain' }), 415, /application\/json/],
      ['too large', post(port, '/session-started', `{"x":"${'a'.repeat(1024 * 1024 + 10)}"}`, auth), 413, /larger than/],
      ['malformed', post(port, '/session-started', '{"sessionId": ', auth), 400, /malformed JSON/],
      ['not an object', post(port, '/session-started', '[1,2]', auth), 400, /JSON object/],
      ['wrong type', post(port, '/session-started', { sessionId: 'x', metadata: { hostPid: 'abc' } }, auth), 400, /"hostPid" must be a number/],
      ['missing field', post(port, '/stop-session', {}, auth), 400, /"sessionId" is required/],
      ['bad pid', post(port, '/session-started', { sessionId: 'x', metadata: { hostPid: -4 } }, auth), 400, /positive integer/],
      ['unknown route', post(port, '/nope', {}, auth), 404, /no route/],
      ['wrong method', post(port, '/list', undefined, auth, 'GET'), 405, /not allowed/],
    ];
    for (const [name, pending, status, message] of cases) {
      const r = await pending;
      expect(r.status, name).toBe(status);
      expect(r.body.success, name).toBe(false);
      expect(r.body.error, name).toMatch(message);
      // The one error body of every HTTP surface: {success: false, error, code}.
      expect(r.body.code, name).toMatch(/^[A-Z][A-Za-z]+$/);
    }
    const wrongMethod = await post(port, '/list', undefined, auth, 'GET');
    expect(wrongMethod.headers.allow).toBe('POST');
    expect((await post(port, '/session-started', `{"x":"${'a'.repeat(1024 * 1024 + 10)}"}`, auth)).body.code).toBe('ResourceExhausted');
    expect((await post(port, '/list', {}, auth)).status).toBe(200);
    expect(isAlive(state.pid)).toBe(true);
  });
});
