/**
 * Starts a session process: `node <SESSION_NODE_FLAGS> <cli> --hapi-starting-mode remote --started-by runner
 * --hapi-session-id <id> --agent <name> [-- agent args]`, detached in its own process group
 * (it must outlive the runner, and the group lets the runner stop the whole tree), with its
 * output appended to a per-session log file the runner can quote when the spawn fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { AbortedError, errnoCode } from '../../shared/errors.js';
import { SESSION_NODE_FLAGS, sessionProcessEnv } from '../../shared/node-flags.js';
import { processStartTime } from '../../shared/proc.js';

/**
 * The environment variable that hands a spawn's prompt to the session process. Not an argument:
 * a command line is visible to every user of the machine (ps), an environment only to its owner;
 * the session removes it before it starts the agent.
 */
export const SESSION_PROMPT_ENV = 'HAPI_SESSION_PROMPT';

export interface LaunchOptions {
  sessionId: string;
  agent: string;
  agentArgs: string[];
  /** The agent's first input: handed to the session process in SESSION_PROMPT_ENV. */
  prompt?: string;
  directory: string;
  /** Node executable (default process.execPath). */
  nodePath?: string;
  /** The hapi CLI entry file. */
  cliPath: string;
  logsDir: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Words that run the session (e.g. systemd-run's scope prefix, service/session-scope.ts); the
   * prefix must exec the session in place, so the PID seen here stays the session's.
   */
  prefix?: string[];
}

export interface LaunchedSession {
  child: ChildProcess;
  pid: number;
  /** Start-time token read right after spawn (guards later signals against PID reuse). */
  processStartTime?: string;
  logPath: string;
  /** Resolves when the process exits (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The argv after the CLI path. Exported so tests and docs can check the exact shape. */
export function sessionArgv(sessionId: string, agent: string, agentArgs: string[]): string[] {
  const argv = ['--hapi-starting-mode', 'remote', '--started-by', 'runner', '--hapi-session-id', sessionId, '--agent', agent];
  if (agentArgs.length > 0) argv.push('--', ...agentArgs);
  return argv;
}

/** Per-session log path: <logsDir>/<id>.log. */
export function sessionLogPath(logsDir: string, sessionId: string): string {
  return join(logsDir, `${sessionId}.log`);
}

/** Spawns the session process. Throws AbortedError if the OS refuses to start it. */
export async function launchSession(opts: LaunchOptions): Promise<LaunchedSession> {
  mkdirSync(opts.logsDir, { recursive: true, mode: 0o700 });
  const logPath = sessionLogPath(opts.logsDir, opts.sessionId);
  // Append: a session id is never reused, but a human may have left a file there.
  const fd = openSync(logPath, 'a', 0o600);
  let child: ChildProcess;
  try {
    const argv = [opts.nodePath ?? process.execPath, ...SESSION_NODE_FLAGS, opts.cliPath, ...sessionArgv(opts.sessionId, opts.agent, opts.agentArgs)];
    const [command, ...args] = [...(opts.prefix ?? []), ...argv];
    child = spawn(command!, args, {
      cwd: opts.directory,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: sessionProcessEnv({ ...(opts.env ?? process.env), [SESSION_PROMPT_ENV]: opts.prompt || undefined }),
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolvePromise) => {
    child.once('exit', (code, signal) => resolvePromise({ code, signal }));
  });
  // 'spawn' or 'error' comes first; an error here means nothing is running.
  await new Promise<void>((resolvePromise, reject) => {
    child.once('spawn', () => resolvePromise());
    // Stays attached: a later 'error' (e.g. a failed kill) must not become an uncaught exception.
    child.on('error', (err) => reject(new AbortedError(`cannot start session process: ${errnoCode(err) ?? err.message}`)));
  });
  child.unref();
  const pid = child.pid!;
  return { child, pid, processStartTime: processStartTime(pid), logPath, exited };
}
