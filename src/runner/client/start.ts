/**
 * Implements "Start Runner" of the runner documentation, client side: `hapi runner start` (and,
 * for session processes, ensureRunner) returns at once when a runner of the same CLI build
 * runs; replaces one of another build (the second half of the hand-off), but only with a new
 * runner that passed its self-check while the old one still ran (lifecycle/takeover.ts);
 * otherwise launches one detached and waits until it answers as ready.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { GetStatusResponse } from '../../contract/runner.js';
import { clientConfig, hubLinkConfig, runnerConfig, type Env } from '../../shared/config.js';
import { FailedPreconditionError, UnavailableError } from '../../shared/errors.js';
import { EXIT_ALREADY_RUNNING } from '../../shared/exit-codes.js';
import { hapiPaths, type HapiPaths } from '../../shared/paths.js';
import { cliPath } from '../../shared/version.js';
import { isCurrentBuild } from '../lifecycle/handoff.js';
import { newestRunnerLog } from '../lifecycle/runner-logs.js';
import { awaitCandidateReady, CandidateFailed, letCandidateTakeOver } from '../lifecycle/takeover.js';
import { probeRunner } from './connect.js';
import { inspectAndCleanStale } from './stale.js';
import { stopRunnerProcess } from './stop.js';

export interface StartResult {
  outcome: 'started' | 'already-running';
  /** Set when an older runner was stopped first. */
  replacedPid?: number;
  status: GetStatusResponse;
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
 * `hapi runner start`: returns at once when a suitable runner runs; replaces an unsuitable one
 * (another CLI build, or with `hubUrl`, a runner not linked to that hub: its sessions keep
 * running and the new runner re-adopts them) once the new runner passed its self-check, and
 * throws, leaving the old one running, when it does not; otherwise launches a runner and waits
 * until it answers on its socket as ready (polling with a deadline, never a fixed sleep).
 */
export async function startRunner(
  opts: {
    env?: Env;
    workspaceRoots?: string[];
    hubUrl?: string;
    onReplace?: (pid: number, why: string) => void;
    /**
     * The PID of the runner whose version hand-off launched this start: it only replaces that
     * runner. When no runner runs any more, someone stopped it meanwhile (`hapi runner stop`),
     * and starting one would undo that stop: nothing is started (FailedPrecondition).
     */
    handoffFrom?: number;
  } = {},
): Promise<StartResult> {
  const env = opts.env ?? process.env;
  // Validate the daemon's configuration here, so a bad value is a clear error (exit 2).
  const config = runnerConfig(env);
  hubLinkConfig(env);
  const paths = hapiPaths(env);
  const startTimeoutMs = Math.max(config.httpTimeoutMs, 5_000);
  let deadline = Date.now() + startTimeoutMs;
  let replacedPid: number | undefined;
  /** Why a running runner must be replaced, or undefined when it will do. */
  const unsuitable = (status: GetStatusResponse): string | undefined => {
    // The hand-off's rule (lifecycle/handoff.ts): another build is replaced.
    if (!isCurrentBuild(status)) return 'runs another CLI version';
    const linkedTo = status.hubLink?.hubUrl;
    if (opts.hubUrl !== undefined && linkedTo !== opts.hubUrl) return linkedTo ? `is linked to ${linkedTo}` : 'is not linked to a hub';
    return undefined;
  };

  // A running runner that will not do is replaced, but only by one that proved it can run.
  let replace: { pid: number; why: string } | undefined;
  const existing = await probeRunner(paths, config.httpTimeoutMs);
  if (existing) {
    const why = unsuitable(existing);
    if (!why) return { outcome: 'already-running', status: existing.ready ? existing : ((await waitForRunner(paths, deadline)) ?? existing) };
    replace = { pid: existing.pid, why };
  } else {
    const stale = await inspectAndCleanStale(paths);
    if (opts.handoffFrom !== undefined && stale.kind !== 'alive-not-answering') {
      throw new FailedPreconditionError(`runner PID ${opts.handoffFrom}, which asked for this hand-off, was stopped meanwhile: not starting another (the stop stands)`);
    }
    if (stale.kind === 'alive-not-answering') {
      // A runner is starting right now (or hung): wait for it rather than racing it.
      const status = await waitForRunner(paths, deadline);
      if (!status) {
        throw new UnavailableError(`runner PID ${stale.pid} holds the lock but does not answer on ${paths.socket}; stop it with \`hapi runner stop\``);
      }
      const why = unsuitable(status);
      if (!why) return { outcome: 'already-running', status };
      replace = { pid: status.pid, why };
    }
  }

  const args = [cliPath(), 'runner', 'start-sync', ...(opts.workspaceRoots ?? []).flatMap((r) => ['--workspace-root', r])];
  if (replace) args.push('--candidate');
  const child = spawn(process.execPath, args, { detached: true, stdio: [replace ? 'pipe' : 'ignore', replace ? 'pipe' : 'ignore', 'pipe'], env, cwd: paths.home });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  child.on('error', (err) => (exited = { code: -1, signal: null, ...{ err } }));

  if (replace) {
    // The hand-off's order (lifecycle/takeover.ts): the new runner loads everything and passes
    // its self-check while the old one still runs; only then is the old one stopped.
    try {
      await awaitCandidateReady(child, () => stderr, startTimeoutMs);
    } catch (err) {
      child.stderr!.destroy();
      child.unref();
      if (!(err instanceof CandidateFailed)) throw err;
      throw new FailedPreconditionError(`the new runner cannot start, so runner PID ${replace.pid} keeps running: ${err.message}`);
    }
    opts.onReplace?.(replace.pid, replace.why);
    try {
      await stopRunnerProcess({ env, reason: 'handoff' });
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    replacedPid = replace.pid;
    letCandidateTakeOver(child);
    deadline = Date.now() + startTimeoutMs;
  }

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
        if (exited.code === EXIT_ALREADY_RUNNING) {
          const winner = await waitForRunner(paths, deadline);
          if (winner) return { outcome: 'already-running', status: winner, replacedPid };
        }
        throw startFailure(paths, `runner exited with ${exited.signal ? `signal ${exited.signal}` : `code ${exited.code}`}`, stderr);
      }
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        throw startFailure(paths, `runner did not answer on ${paths.socket} within ${startTimeoutMs} ms`, stderr);
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
