/**
 * A runner-spawned session's agent, run in a pseudo-terminal that this process owns, with its
 * terminal served as SessionService on the session's own socket (DESIGN.md, "Live sessions").
 * Loaded lazily by run-session.ts (dist/lazy/live-session.mjs): it brings grpc-js, node-pty and
 * the headless xterm, which the CLI's hot bundle must not contain.
 *
 * Raw output still goes to stdout, which the runner opened as the session log.
 */
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'nice-grpc';
import { SessionServiceDefinition } from '../contract/session.js';
import type { ExitStatus, ScreenText } from '../contract/session-types.js';
import type { Env } from '../shared/config.js';
import { errorMappingMiddleware } from '../shared/grpc-errors.js';
import { createLogger } from '../shared/logger.js';
import { createStreamTerminator } from '../shared/stream-terminator.js';
import { listenPrivately, prepareSocketPath } from '../runner/control-socket.js';
import { lookPath, type ResolvedAgent } from '../runner/sessions/agents.js';
import { createOutputRing } from './terminal/output-ring.js';
import { spawnPty } from './terminal/pty-host.js';
import { createScreenModel } from './terminal/screen-model.js';
import { createTerminalSession } from './terminal/terminal-session.js';
import { createSessionService } from './session-service.js';

/** Size of a runner-spawned terminal until a viewer sets one. */
export const DEFAULT_COLS = 120;
export const DEFAULT_ROWS = 40;
/** Raw output kept for viewers that resume from an offset. */
const RING_BYTES = 4 * 1024 * 1024;
/** How far a viewer may fall behind before it gets a snapshot instead of its backlog. */
const VIEWER_WINDOW_BYTES = 2 * 1024 * 1024;
/** How long viewers get to read the final output and exit status once the agent exited. */
const SHUTDOWN_GRACE_MS = 1_000;

export interface LiveAgentOptions {
  agent: ResolvedAgent;
  agentArgs: string[];
  cwd: string;
  env: Env;
  sessionId: string;
  startedBy: 'runner' | 'terminal';
  socketPath: string;
  scrollback: number;
  note: (message: string) => void;
}

export interface LiveAgent {
  /** Resolves when the agent has exited (its output is in the log by then). */
  readonly exited: Promise<ExitStatus>;
  kill(signal: NodeJS.Signals): void;
  /** The visible screen (after the agent exited: its final screen, for the runner to keep). */
  screen(): Promise<ScreenText>;
  /** Ends the viewers' streams and removes the socket. */
  close(): Promise<void>;
}

/** The terminal's environment: the session's, with a capable TERM and a UTF-8 locale. */
export function terminalEnv(env: Env, sessionId: string): Env {
  const utf8 = [env.LC_ALL, env.LC_CTYPE, env.LANG].some((v) => v !== undefined && /utf-?8/i.test(v));
  return {
    ...env,
    TERM: 'xterm-256color',
    COLORTERM: 'truecolor',
    ...(utf8 ? {} : { LANG: 'C.UTF-8', LC_ALL: undefined, LC_CTYPE: undefined }),
    // The runner recognises this process as that session by these (see session-process.ts).
    HAPI_SESSION_ID: sessionId,
    HAPI_SESSION_PID: String(process.pid),
  };
}

/** Starts the agent in a PTY and serves its terminal; a number is the exit code when it could not start. */
export async function startLiveAgent(o: LiveAgentOptions): Promise<LiveAgent | number> {
  if (!existsSync(o.agent.command) || !lookPath(o.agent.command, undefined)) {
    const missing = !existsSync(o.agent.command);
    o.note(`cannot start agent '${o.agent.name}' (${o.agent.command}): ${missing ? 'ENOENT' : 'EACCES'}`);
    // Shell conventions: 127 = not found, 126 = found but not executable.
    return missing ? 127 : 126;
  }
  const pty = spawnPty({
    command: o.agent.command,
    args: [...o.agent.args, ...o.agentArgs],
    cwd: o.cwd,
    env: terminalEnv(o.env, o.sessionId),
    cols: DEFAULT_COLS,
    rows: DEFAULT_ROWS,
  });
  const screen = createScreenModel({ cols: DEFAULT_COLS, rows: DEFAULT_ROWS, scrollback: o.scrollback });
  const terminal = createTerminalSession({
    pty,
    screen,
    ring: createOutputRing(RING_BYTES),
    identity: { id: o.sessionId, agent: o.agent.name, directory: o.cwd, startedBy: o.startedBy, pid: process.pid },
    windowBytes: VIEWER_WINDOW_BYTES,
    onOutput: (data) => process.stdout.write(data),
  });

  const log = createLogger({ name: 'session', level: 'warn' });
  const terminator = createStreamTerminator();
  const server = createServer().use(errorMappingMiddleware(log));
  server.add(SessionServiceDefinition, createSessionService(terminal, terminator));
  let listening = false;
  try {
    await prepareSocketPath(o.socketPath, o.env);
    await listenPrivately(o.socketPath, () => server.listen(`unix://${o.socketPath}`));
    listening = true;
  } catch (err) {
    // The agent runs anyway: a session without a terminal socket is still a session.
    o.note(`cannot serve the session's terminal on ${o.socketPath}: ${err instanceof Error ? err.message : String(err)}`);
  }

  let closing: Promise<void> | undefined;
  return {
    exited: terminal.exited,
    kill: (signal) => pty.kill(signal),
    screen: () => terminal.screen(),
    close() {
      closing ??= (async () => {
        // Viewers get the last output and the exit status before their streams end.
        const grace = new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref());
        await Promise.race([server.shutdown(), grace]);
        terminator.terminate();
        server.forceShutdown();
        if (listening) rmSync(o.socketPath, { force: true });
        screen.dispose();
      })();
      return closing;
    },
  };
}
