/**
 * `hapi [--agent a] [args]` in a terminal. The process that owns the agent's PTY must outlive
 * the terminal (the dtach/abduco design), so this one does not own it: it launches the session
 * process detached (its own session and process group, stdout and stderr to the session log
 * `$HAPI_HOME/logs/sessions/<id>.log`, 0600), as the runner launches its sessions but with
 * `--started-by terminal` and the terminal's size (the session inherits TERM, COLORTERM and the
 * locale with the environment), then attaches the terminal to it as an interactive viewer. It
 * replays the session's output from its first byte, so the terminal shows exactly what the agent
 * wrote. Detaching (the detach key, or the terminal closing) leaves the session running.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { attachConfig, sessionConfig, type Env } from '../shared/config.js';
import { UnavailableError, errnoCode } from '../shared/errors.js';
import { exitCodeOfStatus } from '../shared/exit-codes.js';
import { SESSION_NODE_FLAGS, sessionProcessEnv } from '../shared/node-flags.js';
import { hapiPaths, sessionSocketPathFor } from '../shared/paths.js';
import { cliPath } from '../shared/version.js';
import { createAgentResolver } from '../runner/sessions/agents.js';
import { sessionLogPath } from '../runner/sessions/spawner.js';

export interface TerminalLaunchOptions {
  agent?: string;
  agentArgs: string[];
  env?: Env;
  cwd?: string;
}

/** How long the session process gets to serve its terminal socket. */
const SOCKET_WAIT_MS = 15_000;
const SOCKET_POLL_MS = 5;

function note(message: string): void {
  process.stderr.write(`hapi: ${message}\n`);
}

/** Runs a terminal session; resolves with the exit code for this process. */
export async function runTerminalSession(opts: TerminalLaunchOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  // Bad settings and a bad agent are errors here, before anything starts.
  const { detachKey } = attachConfig(env);
  sessionConfig(env);
  const paths = hapiPaths(env);
  createAgentResolver({ env, settingsFile: paths.settingsFile, cwd }).resolve(opts.agent);
  // Loaded while the session starts: it is not needed before its socket answers.
  const attachModule = import('./attach/index.js');

  const runner = import('../runner/client/start.js').then(({ ensureRunner }) => ensureRunner({ env }));
  const sessionId = randomUUID();
  const size = { cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 };
  const argv = ['--hapi-starting-mode', 'remote', '--started-by', 'terminal', '--hapi-session-id', sessionId, '--hapi-terminal-size', `${size.cols}x${size.rows}`];
  if (opts.agent !== undefined) argv.push('--agent', opts.agent);
  if (opts.agentArgs.length > 0) argv.push('--', ...opts.agentArgs);

  const launched = launch(argv, { env, cwd, logsDir: paths.sessionLogsDir, sessionId });
  // The runner starts alongside: the session reports itself once it answers (or later, when
  // none could be started). Said before the terminal is taken over.
  try {
    await runner;
  } catch (err) {
    note(`runner not available (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); running the session without it`);
  }
  const socketPath = sessionSocketPathFor(paths.home, sessionId, env);
  const early = await waitForSocket(socketPath, launched);
  if (early !== undefined) {
    // The session process ended before serving its terminal (e.g. the agent cannot start).
    const tail = readTail(launched.logPath);
    if (tail) process.stderr.write(`${tail}\n`);
    return early;
  }
  launched.release();

  const { attachTerminal, createSessionSocketTransport } = await attachModule;
  const outcome = await attachTerminal({
    transport: createSessionSocketTransport(socketPath),
    readOnly: false,
    detachKey,
    lastOffset: 0,
    // As before this design: a termination signal sent to `hapi` ends the agent, and `hapi`
    // exits with its status. The session process passes it on to the agent.
    onTerminate: (signal) => {
      try {
        process.kill(launched.pid, signal);
      } catch {
        // Already gone: the exit comes through the stream.
      }
    },
  });
  if (outcome.kind === 'exited') return exitCodeOfStatus(outcome.status);
  if (!outcome.hangup) process.stderr.write(`\n[detached from session ${sessionId}; it keeps running. Back with: hapi attach ${sessionId}]\n`);
  return 0;
}

interface Launched {
  pid: number;
  logPath: string;
  /** Resolves with the process's exit code if it exits while still held. */
  exited: Promise<number>;
  /** Lets this process exit without waiting for the session process. */
  release(): void;
}

function launch(argv: string[], o: { env: Env; cwd: string; logsDir: string; sessionId: string }): Launched {
  mkdirSync(o.logsDir, { recursive: true, mode: 0o700 });
  const logPath = sessionLogPath(o.logsDir, o.sessionId);
  const fd = openSync(logPath, 'a', 0o600);
  try {
    // With the runner's node flags: a terminal session is the same process as a runner-spawned one.
    const child = spawn(process.execPath, [...SESSION_NODE_FLAGS, cliPath(), ...argv], { cwd: o.cwd, detached: true, stdio: ['ignore', fd, fd], env: sessionProcessEnv(o.env) });
    const exited = new Promise<number>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1)));
      child.once('error', (err) => {
        note(`cannot start the session process: ${errnoCode(err) ?? err.message}`);
        resolve(1);
      });
    });
    return { pid: child.pid ?? 0, logPath, exited, release: () => child.unref() };
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
}

/** Waits for the session's socket; a number is the session process's exit code when it ended first. */
async function waitForSocket(socketPath: string, launched: Launched): Promise<number | undefined> {
  let early: number | undefined;
  void launched.exited.then((code) => (early = code));
  const deadline = Date.now() + SOCKET_WAIT_MS;
  while (!existsSync(socketPath)) {
    if (early !== undefined) return early;
    if (Date.now() > deadline) {
      throw new UnavailableError(`the session did not serve its terminal within ${SOCKET_WAIT_MS} ms (see ${launched.logPath})`);
    }
    await sleep(SOCKET_POLL_MS);
  }
  return undefined;
}

function readTail(path: string, lines = 10): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
