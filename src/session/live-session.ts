/**
 * A runner-spawned session's agent, run in a pseudo-terminal that this process owns, with its
 * terminal served as SessionService on the session's own socket (DESIGN.md, "Live sessions").
 * Loaded lazily by run-session.ts (dist/lazy/live-session.mjs): the CLI's hot bundle must not
 * contain node-pty.
 *
 * Start-up is in two halves, because the runner's spawn waits for the session's report:
 * 1. here (node-pty only): the socket listens (connections are held), the agent starts in its
 *    PTY, its output goes to the session log and is held; then run-session reports;
 * 2. `serve()` (live-server.ts: grpc-js and the headless xterm, ~60 ms to load): the screen
 *    model parses the held output, and the gRPC server takes over the socket.
 *
 * Raw output goes to stdout, which the runner opened as the session log (capped, rotated).
 */
import { existsSync, rmSync } from 'node:fs';
import type { ExitStatus, ScreenText } from '../contract/session-types.js';
import type { Env, SessionConfig } from '../shared/config.js';
import { hapiPaths } from '../shared/paths.js';
import { withoutSessionProcessEnv } from '../shared/node-flags.js';
import { lookPath, type ResolvedAgent } from '../runner/sessions/agents.js';
import { sessionLogPath } from '../runner/sessions/spawner.js';
import { yieldCpuToControl } from './terminal/cpu-priority.js';
import { holdOutput, spawnPty } from './terminal/pty-host.js';
import { createSessionLog } from './terminal/session-log.js';
import { listenEarly, type EarlyListener } from './terminal/socket-handover.js';
import type { TerminalServer } from './live-server.js';
import { registerAgentHooks, type AgentHooks } from './activity/agent-hooks.js';
import { typeInitialPrompt } from './initial-prompt.js';
import { readProcRow } from '../shared/proc.js';

/** Size of a runner-spawned terminal until a viewer sets one. */
export const DEFAULT_COLS = 120;
export const DEFAULT_ROWS = 40;

export interface LiveAgentOptions {
  agent: ResolvedAgent;
  agentArgs: string[];
  cwd: string;
  env: Env;
  sessionId: string;
  startedBy: 'runner' | 'terminal';
  socketPath: string;
  config: Pick<SessionConfig, 'scrollback' | 'ringBytes' | 'viewerWindowBytes' | 'logMaxBytes' | 'spoolMaxBytes' | 'cpuNice' | 'idleMs' | 'approvalTimeoutMs' | 'terminalActiveMs' | 'promptWaitMs'>;
  /** Called when the agent's activity changed (the runner is told). */
  onActivityChange?: () => void;
  /** Typed into the terminal once the agent's screen settles (initial-prompt.ts), after serve(). */
  typedPrompt?: string;
  /** The terminal's size at start (a terminal session's: its window's); default 120x40. */
  size?: { cols: number; rows: number };
  note: (message: string) => void;
}

export interface LiveAgent {
  /** Resolves when the agent has exited (its output is in the log by then). */
  readonly exited: Promise<ExitStatus>;
  kill(signal: NodeJS.Signals): void;
  /** The visible screen (after the agent exited: its final screen, for the runner to keep). */
  screen(): Promise<ScreenText>;
  /**
   * Loads the screen model and serves the terminal (idempotent). Call it once the session has
   * reported itself: until then connections to the socket wait, and output is held.
   */
  serve(): Promise<void>;
  /** Serves if that never happened (so viewers see the end), then ends their streams and removes the socket. */
  close(): Promise<void>;
}

/**
 * The terminal's environment: the session's (less what the session process runs with for
 * itself), with a capable TERM and a UTF-8 locale. A session
 * started from a terminal keeps that terminal's TERM, COLORTERM and locale (it inherited them).
 */
export function terminalEnv(sessionEnv: Env, sessionId: string, startedBy: 'runner' | 'terminal' = 'runner'): Env {
  // What the session process runs with for itself (node-flags.ts) is not the agent's.
  const env = withoutSessionProcessEnv(sessionEnv);
  if (startedBy === 'terminal') {
    return { ...env, TERM: env.TERM || 'xterm-256color', HAPI_SESSION_ID: sessionId, HAPI_SESSION_PID: String(process.pid) };
  }
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

/** Starts the agent in a PTY with its socket listening; a number is the exit code when it could not start. */
export async function startLiveAgent(o: LiveAgentOptions): Promise<LiveAgent | number> {
  if (!existsSync(o.agent.command) || !lookPath(o.agent.command, undefined)) {
    const missing = !existsSync(o.agent.command);
    o.note(`cannot start agent '${o.agent.name}' (${o.agent.command}): ${missing ? 'ENOENT' : 'EACCES'}`);
    // Shell conventions: 127 = not found, 126 = found but not executable.
    return missing ? 127 : 126;
  }
  let early: EarlyListener | undefined;
  try {
    early = await listenEarly(o.socketPath, o.env);
  } catch (err) {
    // The agent runs anyway: a session without a terminal socket is still a session.
    o.note(`cannot serve the session's terminal on ${o.socketPath}: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Reading pauses while the log's disk is far behind (set once the PTY exists).
  let pauseForLog = (_full: boolean) => {};
  const log = createSessionLog({
    fd: 1,
    path: sessionLogPath(hapiPaths(o.env).sessionLogsDir, o.sessionId),
    maxBytes: o.config.logMaxBytes,
    batch: true,
    onPressure: (full) => pauseForLog(full),
    onError: (err) => o.note(`cannot write the session log: ${err instanceof Error ? err.message : String(err)}`),
  });
  let hooks: AgentHooks = { args: [], cleanup: () => undefined };
  try {
    hooks = registerAgentHooks({ agentName: o.agent.name, sessionId: o.sessionId, hooksDir: hapiPaths(o.env).sessionHooksDir, approvalTimeoutMs: o.config.approvalTimeoutMs });
  } catch (err) {
    // The agent runs anyway, its activity then guessed from the terminal.
    o.note(`cannot register the agent's hooks: ${err instanceof Error ? err.message : String(err)}`);
  }
  const pty = holdOutput(
    spawnPty({
      command: o.agent.command,
      args: [...o.agent.args, ...hooks.args, ...o.agentArgs],
      cwd: o.cwd,
      env: { ...terminalEnv(o.env, o.sessionId, o.startedBy), HAPI_SESSION_SOCKET: o.socketPath },
      cols: o.size?.cols ?? DEFAULT_COLS,
      rows: o.size?.rows ?? DEFAULT_ROWS,
    }),
    o.config.ringBytes,
    (data) => log.write(data),
  );
  pauseForLog = (full) => pty.pauseFor('log', full);
  yieldCpuToControl(o.config.cpuNice, o.note);

  let serving: Promise<TerminalServer | undefined> | undefined;
  const serve = () =>
    (serving ??= import('./live-server.js').then(
      ({ serveTerminal }) =>
        serveTerminal({
          pty,
          identity: { id: o.sessionId, agent: o.agent.name, directory: o.cwd, startedBy: o.startedBy, pid: process.pid },
          socketPath: o.socketPath,
          env: o.env,
          early,
          ...o.config,
          onActivityChange: o.onActivityChange,
          note: o.note,
        }),
      (err: unknown) => {
        o.note(`cannot load the session's terminal: ${err instanceof Error ? err.message : String(err)}`);
        if (early) {
          early.close();
          rmSync(o.socketPath, { force: true });
        }
        return undefined;
      },
    ));
  if (o.typedPrompt !== undefined) {
    const text = o.typedPrompt;
    // Once served: the screen model exists from then on, and the agent has had its start.
    void serve().then((server) => {
      if (!server) return o.note('the prompt was not typed: the terminal could not be loaded');
      void typeInitialPrompt({
        prompt: text,
        // The terminal's screen waits for the model to catch up with the output (it may be fed
        // in slices); the model itself may show a screen some output behind.
        sample: async () => {
          const { text, cursor } = await server.terminal.screen();
          return { text, cursor, bracketedPaste: server.screen.bracketedPaste };
        },
        type: (t) => {
          try {
            server.terminal.sendInput({ text: t, enter: true });
          } catch (err) {
            o.note(`the prompt was not typed: ${err instanceof Error ? err.message : String(err)}`);
          }
        },
        agentRunnable: () => readProcRow(pty.pid)?.runnable ?? false,
        exited: pty.exited,
        maxWaitMs: o.config.promptWaitMs,
        note: o.note,
      });
    });
  }
  let closing: Promise<void> | undefined;
  return {
    exited: pty.exited,
    kill: (signal) => pty.kill(signal),
    serve: async () => void (await serve()),
    async screen() {
      const server = await serve();
      if (!server) throw new Error("the session's terminal could not be loaded");
      return server.terminal.screen();
    },
    close() {
      closing ??= (async () => {
        const server = await serve();
        // Viewers get the last output and the exit status before their streams end.
        if (server) await server.terminal.exited;
        await server?.close();
        hooks.cleanup();
      })();
      return closing;
    },
  };
}
