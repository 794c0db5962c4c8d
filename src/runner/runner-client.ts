/**
 * The client side of the runner: find it, connect over the Unix socket, start it if needed,
 * stop it. It owns connection errors and turns "cannot connect" into "is the runner running?
 * try `hapi runner start`". Used by the CLI commands and by session processes.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { ClientError, Status } from 'nice-grpc-common';
import { RunnerServiceDefinition, type GetStatusResponse } from '../contract/runner.js';
import { clientConfig, hubLinkConfig, runnerConfig, type Env } from '../shared/config.js';
import { DeadlineExceededError, FailedPreconditionError, UnavailableError, isHapiError } from '../shared/errors.js';
import { fromClientError } from '../shared/grpc-errors.js';
import { createUnaryClient, type UnaryClient } from '../shared/grpc-unary-client.js';
import { hapiPaths, type HapiPaths } from '../shared/paths.js';
import { isSameProcess, signalProcess, waitForExit } from '../shared/proc.js';
import { CLI_VERSION, cliMtimeMs, cliPath } from '../shared/version.js';
import { probeSocket } from './control-socket.js';
import { isLockOwnerAlive, readLockOwner } from './lifecycle/runner-lock.js';
import { newestRunnerLog } from './lifecycle/runner-logs.js';
import { readStateFile, type RunnerStateFile } from './lifecycle/state-file.js';

export const NOT_RUNNING_HINT = 'runner is not running; start it with `hapi runner start`';
/** Exit code the daemon uses when another runner holds the lock (see daemon.ts). */
const DAEMON_EXIT_ALREADY_RUNNING = 3;

/** The runner's unary RPCs (the CLI never needs the streaming ones). */
export type RunnerClient = UnaryClient<typeof RunnerServiceDefinition>;

export interface RunnerConnection {
  client: RunnerClient;
  socketPath: string;
  timeoutMs: number;
  /** Runs one call with the configured timeout and maps failures to domain errors. */
  call<T>(fn: (client: RunnerClient, signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T>;
  close(): void;
}

function mapCallError(err: unknown, timeoutMs: number): unknown {
  if (err instanceof ClientError) {
    if (err.code === Status.UNAVAILABLE && !/starting|shutting/.test(err.details)) return new UnavailableError(NOT_RUNNING_HINT);
    if (err.code === Status.DEADLINE_EXCEEDED || err.code === Status.CANCELLED) {
      return new DeadlineExceededError(`runner did not answer within ${timeoutMs} ms (HAPI_RUNNER_HTTP_TIMEOUT)`);
    }
    return fromClientError(err);
  }
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new DeadlineExceededError(`runner did not answer within ${timeoutMs} ms (HAPI_RUNNER_HTTP_TIMEOUT)`);
  }
  return err;
}

/** Connects to the runner's socket. Throws UnavailableError when no runner listens there. */
export function connectRunner(opts: { env?: Env; timeoutMs?: number; paths?: HapiPaths } = {}): RunnerConnection {
  const env = opts.env ?? process.env;
  const paths = opts.paths ?? hapiPaths(env);
  const timeoutMs = opts.timeoutMs ?? clientConfig(env).httpTimeoutMs;
  if (!existsSync(paths.socket)) throw new UnavailableError(NOT_RUNNING_HINT);
  const { client, channel } = createUnaryClient(RunnerServiceDefinition, paths.socket);
  return {
    client,
    socketPath: paths.socket,
    timeoutMs,
    async call(fn, ms = timeoutMs) {
      try {
        return await fn(client, AbortSignal.timeout(ms));
      } catch (err) {
        throw mapCallError(err, ms);
      }
    },
    close: () => channel.close(),
  };
}

/** One call on a fresh connection, closed afterwards. */
export async function withRunner<T>(fn: (client: RunnerClient, signal: AbortSignal) => Promise<T>, opts: { env?: Env; timeoutMs?: number } = {}): Promise<T> {
  const conn = connectRunner(opts);
  try {
    return await conn.call(fn);
  } finally {
    conn.close();
  }
}

/**
 * Status of the running runner, or undefined when none answers within `timeoutMs`. A socket
 * file nobody listens on fails the connect at once (ECONNREFUSED -> Unavailable), so there is
 * no separate connect probe first: that cost a second connection on every command.
 */
export async function probeRunner(paths: HapiPaths, timeoutMs: number): Promise<GetStatusResponse | undefined> {
  if (!existsSync(paths.socket)) return undefined;
  const conn = connectRunner({ paths, timeoutMs });
  try {
    return await conn.call((c, signal) => c.getStatus({}, { signal }));
  } catch (err) {
    if (isHapiError(err) && (err.kind === 'Unavailable' || err.kind === 'DeadlineExceeded')) return undefined;
    throw err;
  } finally {
    conn.close();
  }
}

export type StaleCheck =
  | { kind: 'none' }
  | { kind: 'alive-not-answering'; pid: number }
  | { kind: 'stale-cleaned'; pid?: number; removed: string[] };

/**
 * When no runner answers: tells apart "nothing there", "a live runner that does not answer",
 * and "stale files left by a dead runner" (which it removes: lock, state, socket).
 */
export async function inspectAndCleanStale(paths: HapiPaths): Promise<StaleCheck> {
  const state = readStateFile(paths.stateFile);
  const lock = readLockOwner(paths.lockFile);
  if (typeof lock === 'object' && isLockOwnerAlive(lock)) return { kind: 'alive-not-answering', pid: lock.pid };
  if (state.kind === 'ok' && isSameProcess(state.state.pid, state.state.processStartTime) && typeof lock !== 'object') {
    return { kind: 'alive-not-answering', pid: state.state.pid };
  }
  const removed: string[] = [];
  if (state.kind !== 'missing') {
    rmSync(paths.stateFile, { force: true });
    removed.push(paths.stateFile);
  }
  if (lock !== 'missing') {
    // Re-check under the same rule the daemon uses: never remove a live owner's lock.
    const again = readLockOwner(paths.lockFile);
    if (!(typeof again === 'object' && isLockOwnerAlive(again))) {
      rmSync(paths.lockFile, { force: true });
      removed.push(paths.lockFile);
    }
  }
  if (existsSync(paths.socket) && !(await probeSocket(paths.socket))) {
    rmSync(paths.socket, { force: true });
    removed.push(paths.socket);
  }
  if (removed.length === 0) return { kind: 'none' };
  return { kind: 'stale-cleaned', pid: state.kind === 'ok' ? state.state.pid : typeof lock === 'object' ? lock.pid : undefined, removed };
}

export function readRunnerState(paths: HapiPaths): RunnerStateFile | undefined {
  const r = readStateFile(paths.stateFile);
  return r.kind === 'ok' ? r.state : undefined;
}

export interface StartResult {
  outcome: 'started' | 'already-running';
  /** Set when an older runner was stopped first. */
  replacedPid?: number;
  status: GetStatusResponse;
}

function sameBuild(status: GetStatusResponse): boolean {
  return status.cliVersion === CLI_VERSION && status.cliMtimeMs === cliMtimeMs();
}

function tailOfFile(path: string | undefined, lines = 20): string {
  if (!path) return '';
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * `hapi runner start`: returns at once when a suitable runner runs; stops an unsuitable one
 * first (another CLI build, or with `hubUrl`, a runner not linked to that hub: its sessions keep
 * running and the new runner re-adopts them); otherwise launches a detached runner and waits
 * until it answers on its socket as ready (polling with a deadline, never a fixed sleep).
 */
export async function startRunner(
  opts: { env?: Env; workspaceRoots?: string[]; hubUrl?: string; onReplace?: (pid: number, why: string) => void } = {},
): Promise<StartResult> {
  const env = opts.env ?? process.env;
  // Validate the daemon's configuration here, so a bad value is a clear error (exit 2).
  const config = runnerConfig(env);
  hubLinkConfig(env);
  const paths = hapiPaths(env);
  const deadline = Date.now() + Math.max(config.httpTimeoutMs, 5_000);
  let replacedPid: number | undefined;
  /** Why a running runner must be replaced, or undefined when it will do. */
  const unsuitable = (status: GetStatusResponse): string | undefined => {
    if (!sameBuild(status)) return 'runs another CLI version';
    const linkedTo = status.hubLink?.hubUrl;
    if (opts.hubUrl !== undefined && linkedTo !== opts.hubUrl) return linkedTo ? `is linked to ${linkedTo}` : 'is not linked to a hub';
    return undefined;
  };

  const existing = await probeRunner(paths, config.httpTimeoutMs);
  if (existing) {
    const why = unsuitable(existing);
    if (!why) return { outcome: 'already-running', status: existing.ready ? existing : ((await waitForRunner(paths, deadline)) ?? existing) };
    opts.onReplace?.(existing.pid, why);
    await stopRunnerProcess({ env, reason: 'handoff' });
    replacedPid = existing.pid;
  } else {
    const stale = await inspectAndCleanStale(paths);
    if (stale.kind === 'alive-not-answering') {
      // A runner is starting right now (or hung): wait for it rather than racing it.
      const status = await waitForRunner(paths, deadline);
      if (status) {
        const why = unsuitable(status);
        if (!why) return { outcome: 'already-running', status };
        opts.onReplace?.(status.pid, why);
        await stopRunnerProcess({ env, reason: 'handoff' });
        replacedPid = status.pid;
      } else {
        throw new UnavailableError(`runner PID ${stale.pid} holds the lock but does not answer on ${paths.socket}; stop it with \`hapi runner stop\``);
      }
    }
  }

  const args = [cliPath(), 'runner', 'start-sync', ...(opts.workspaceRoots ?? []).flatMap((r) => ['--workspace-root', r])];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env, cwd: paths.home });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  child.on('error', (err) => (exited = { code: -1, signal: null, ...{ err } }));

  try {
    for (;;) {
      const status = await probeRunner(paths, 1_000);
      if (status && status.pid === child.pid) {
        // Answering is not enough: it returns once it has finished starting.
        if (status.ready) return { outcome: 'started', status, replacedPid };
      } else if (status && (exited || (await waitForChildExit(child, 2_000)))) {
        // Another start won the race; ours exited with "already running".
        const winner = await waitForRunner(paths, deadline);
        if (winner) return { outcome: 'already-running', status: winner, replacedPid };
      }
      if (exited) {
        if (exited.code === DAEMON_EXIT_ALREADY_RUNNING) {
          const winner = await waitForRunner(paths, deadline);
          if (winner) return { outcome: 'already-running', status: winner, replacedPid };
        }
        throw startFailure(paths, `runner exited with ${exited.signal ? `signal ${exited.signal}` : `code ${exited.code}`}`, stderr);
      }
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        throw startFailure(paths, `runner did not answer on ${paths.socket} within ${Math.max(config.httpTimeoutMs, 5_000)} ms`, stderr);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    child.stderr!.destroy();
    child.unref();
  }
}

function waitForChildExit(child: ReturnType<typeof spawn>, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

function startFailure(paths: HapiPaths, why: string, stderr: string): FailedPreconditionError {
  const log = newestRunnerLog(paths.logsDir);
  const tail = tailOfFile(log);
  const parts = [`runner failed to start: ${why}`];
  if (stderr.trim()) parts.push(stderr.trim());
  if (log) parts.push(`last lines of ${log}:\n${tail}`);
  return new FailedPreconditionError(parts.join('\n'));
}

/** Polls until a runner answers and has finished starting, or the deadline passes. */
async function waitForRunner(paths: HapiPaths, deadline: number): Promise<GetStatusResponse | undefined> {
  while (Date.now() < deadline) {
    const s = await probeRunner(paths, 1_000);
    if (s?.ready) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

export interface StopOutcome {
  pid: number;
  how: 'graceful' | 'sigterm' | 'sigkill';
}

/**
 * `hapi runner stop`: graceful stop over gRPC; if the runner has not exited within
 * HAPI_RUNNER_HTTP_TIMEOUT, SIGTERM, then SIGKILL. Sessions are never touched.
 */
export async function stopRunnerProcess(opts: { env?: Env; reason?: string } = {}): Promise<StopOutcome> {
  const env = opts.env ?? process.env;
  const paths = hapiPaths(env);
  const timeoutMs = clientConfig(env).httpTimeoutMs;
  const status = await probeRunner(paths, timeoutMs);
  if (!status) {
    const stale = await inspectAndCleanStale(paths);
    if (stale.kind === 'alive-not-answering') {
      return forceStop(paths, stale.pid, timeoutMs);
    }
    throw new UnavailableError(stale.kind === 'stale-cleaned' ? `runner is not running (removed stale files of dead runner${stale.pid ? ` PID ${stale.pid}` : ''})` : 'runner is not running');
  }
  const lock = readLockOwner(paths.lockFile);
  const startTime = typeof lock === 'object' && lock.pid === status.pid ? lock.startTime : undefined;
  await withRunner((c, signal) => c.stopRunner({ reason: opts.reason ?? 'cli' }, { signal }), { env, timeoutMs }).catch((err) => {
    // The runner may exit before it answers; that is a success.
    if (!(isHapiError(err) && err.kind === 'Unavailable')) throw err;
  });
  if (await waitForExit(status.pid, timeoutMs, startTime)) return { pid: status.pid, how: 'graceful' };
  return forceStop(paths, status.pid, timeoutMs, startTime);
}

async function forceStop(paths: HapiPaths, pid: number, timeoutMs: number, startTime?: string): Promise<StopOutcome> {
  signalProcess(pid, 'SIGTERM');
  let how: StopOutcome['how'] = 'sigterm';
  if (!(await waitForExit(pid, Math.min(timeoutMs, 5_000), startTime))) {
    signalProcess(pid, 'SIGKILL');
    how = 'sigkill';
    await waitForExit(pid, 5_000, startTime);
  }
  await inspectAndCleanStale(paths);
  return { pid, how };
}

/**
 * For session processes: make sure a runner is running (start one if not). Resolves when it
 * answers; throws with the reason when it cannot be started.
 */
export async function ensureRunner(opts: { env?: Env } = {}): Promise<GetStatusResponse> {
  const env = opts.env ?? process.env;
  const paths = hapiPaths(env);
  const running = await probeRunner(paths, clientConfig(env).httpTimeoutMs);
  if (running) return running;
  return (await startRunner({ env })).status;
}
