/**
 * Implements "Automatic Version Detection" of the runner documentation (heartbeat step 2), the
 * whole hand-off to a runner of an upgraded CLI:
 * 1. detect: the CLI file's mtime differs from the one this runner started with;
 * 2. launch `hapi runner start` with the new CLI file (detached, its output in a side log);
 * 3. that command sees a running runner of another build (isCurrentBuild below) and launches
 *    the new runner as a candidate, which loads everything it needs and passes a self-check
 *    while this runner keeps running (takeover.ts); only then does it stop this one over gRPC
 *    (this process then shuts down with reason "handoff"), and the new runner takes the lock,
 *    socket and state and re-adopts every session;
 * 4. a failed hand-off (the new build cannot start: this runner was never stopped) is logged
 *    with the command's own output and retried with the project's backoff
 *    (src/shared/backoff.ts: capped, exponential, jittered), never in a tight loop; every step
 *    is logged ("version mismatch ...", "hand-off failed ...").
 *
 * Under a service manager (systemd, launchd: `serviceRestart` set) the manager owns the runner,
 * so a runner launched beside it would run outside the unit. There, step 2 launches the new
 * build as a candidate only for its self-check (takeover.ts: it loads everything, then exits
 * when its stdin closes without GO), and once it passed, this runner shuts down with exit status
 * EXIT_SERVICE_RESTART, on which the unit restarts it with the new build (Node has no in-place
 * exec). A new build that fails its self-check never stops this runner: same backoff as above.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createBackoff } from '../../shared/backoff.js';
import { EXIT_SERVICE_RESTART } from '../../shared/exit-codes.js';
import type { Logger } from '../../shared/logger.js';
import { CLI_VERSION, cliMtimeMs } from '../../shared/version.js';
import { awaitCandidateReady } from './takeover.js';

/** The launched `hapi runner start`, as far as the hand-off watches it. */
export interface LaunchedStart {
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  unref(): void;
}

export interface HandoffOptions {
  /** The CLI file this runner was started from; the new runner is launched from it too. */
  cliPath: string;
  /** Its mtime when this runner started (startedWithCliMtimeMs). */
  startMtimeMs: number;
  /** Extra `runner start` flags to carry over (e.g. --workspace-root). */
  startArgs: string[];
  /** Log file the new `runner start` process writes its own output to. */
  outputFile: string;
  log: Logger;
  /** Backoff bounds in ms. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Injected in tests: reads the CLI file's mtime (default: stat). */
  readMtime?: (path: string) => number;
  /** Injected in tests: the clock of the backoff (default: Date.now). */
  now?: () => number;
  /** Injected in tests: the backoff's jitter source in [0, 1) (default: Math.random). */
  random?: () => number;
  /** Injected in tests: launches `node <argv...>` detached with output to `outputFile`. */
  launch?: (argv: string[], outputFile: string) => LaunchedStart;
  /**
   * Set when a service manager owns this runner: called once the new build passed its
   * self-check; the runner then exits with EXIT_SERVICE_RESTART and the manager restarts it.
   */
  serviceRestart?: () => void;
  /** How long the new build's self-check may take (ms; default 30 s). */
  selfCheckTimeoutMs?: number;
}

/** What one version check did. */
export type HandoffCheck = 'unchanged' | 'launched' | 'in-progress' | 'retry-pending';

export interface Handoff {
  /** Heartbeat step 2: compares the CLI file's mtime and hands off when it changed. */
  checkCliVersion(): HandoffCheck;
  /** A launched `runner start` has not exited yet. */
  inProgress(): boolean;
}

/**
 * The rule the launched `hapi runner start` applies (step 3): a running runner that reports
 * another CLI version or CLI mtime than this CLI's own is replaced.
 */
export function isCurrentBuild(status: { cliVersion: string; cliMtimeMs: number }): boolean {
  return status.cliVersion === CLI_VERSION && status.cliMtimeMs === cliMtimeMs();
}

function launchDetached(argv: string[], outputFile: string): LaunchedStart {
  const fd = openSync(outputFile, 'a', 0o600);
  try {
    return spawn(process.execPath, argv, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  } finally {
    closeSync(fd);
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** What the launched command wrote (from `from` on, at most the last 4 KiB), trimmed. */
function readTail(path: string, from: number, max = 4096): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const end = statSync(path).size;
    const start = Math.max(from, end - max);
    const buf = Buffer.alloc(Math.max(0, end - start));
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString('utf8').trim();
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function createHandoff(opts: HandoffOptions): Handoff {
  const readMtime = opts.readMtime ?? cliMtimeMs;
  const now = opts.now ?? Date.now;
  const launch = opts.launch ?? launchDetached;
  const backoff = createBackoff({ initialMs: opts.minBackoffMs ?? 1_000, maxMs: opts.maxBackoffMs ?? 5 * 60_000, now, random: opts.random });
  let attempts = 0;
  let notBefore = 0;
  let child: LaunchedStart | undefined;

  function failed(code: number | null, signal: NodeJS.Signals | null, output: string): void {
    child = undefined;
    const delay = backoff.failed();
    notBefore = now() + delay;
    opts.log.warn(
      { code, signal, retryInMs: delay, attempt: attempts, output, outputFile: opts.outputFile },
      `hand-off failed; this runner keeps running and retries with backoff${output ? `: ${output.split('\n').slice(-3).join(' | ')}` : ''}`,
    );
  }

  /** Under a service manager: the new build's self-check, then exit for the manager's restart. */
  function checkThenRestart(restart: () => void): void {
    let candidate: ChildProcess;
    let stderr = '';
    try {
      candidate = spawn(process.execPath, [opts.cliPath, 'runner', 'start-sync', '--candidate', ...opts.startArgs], { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    } catch (err) {
      return failed(null, null, (err as Error).message);
    }
    child = candidate;
    candidate.stderr!.on('data', (d) => (stderr += d));
    awaitCandidateReady(candidate, () => stderr, opts.selfCheckTimeoutMs ?? 30_000).then(
      () => {
        // No GO: the candidate exits; the manager starts the new build in this runner's place.
        candidate.stdin!.end();
        candidate.stdout!.destroy();
        candidate.stderr!.destroy();
        opts.log.info({ exitCode: EXIT_SERVICE_RESTART }, 'the new build passed its self-check; exiting so that the service manager restarts the runner with it');
        restart();
      },
      (err: Error) => failed(candidate.exitCode, candidate.signalCode, err.message),
    );
  }

  function start(current: number): void {
    attempts++;
    opts.log.info(
      { recordedMtimeMs: opts.startMtimeMs, currentMtimeMs: current, attempt: attempts, service: opts.serviceRestart !== undefined },
      opts.serviceRestart
        ? 'version mismatch: CLI file changed; checking the new build before the service manager restarts the runner with it'
        : 'version mismatch: CLI file changed; starting a new runner to hand over',
    );
    if (opts.serviceRestart) return checkThenRestart(opts.serviceRestart);
    const outputFrom = fileSize(opts.outputFile);
    // --handoff-from: if this runner is stopped meanwhile, the new one must not start in its place.
    const started = launch([opts.cliPath, 'runner', 'start', '--handoff-from', String(process.pid), ...opts.startArgs], opts.outputFile);
    child = started;
    started.on('error', (err) => opts.log.error({ err }, 'could not start the new runner for hand-off'));
    started.on('exit', (code, signal) => {
      child = undefined;
      if (code === 0) {
        opts.log.info('hand-off command finished');
        return;
      }
      failed(code, signal, readTail(opts.outputFile, outputFrom));
    });
    started.unref();
  }

  return {
    inProgress: () => child !== undefined,
    checkCliVersion() {
      const current = readMtime(opts.cliPath);
      if (current === opts.startMtimeMs) return 'unchanged';
      if (child) return 'in-progress';
      const t = now();
      if (t < notBefore) {
        opts.log.info({ retryInMs: notBefore - t }, 'version mismatch; hand-off retry pending');
        return 'retry-pending';
      }
      start(current);
      return 'launched';
    },
  };
}
