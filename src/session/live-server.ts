/**
 * The heavy half of a live session (grpc-js and the headless xterm, some 60 ms to load): the
 * screen model, the terminal with its viewers, and SessionService on the session's socket.
 * live-session.ts loads it once the session has reported itself to the runner.
 */
import { rmSync } from 'node:fs';
import { SessionServiceDefinition } from '../contract/session.js';
import type { TerminalInfo } from '../contract/session-types.js';
import { createGrpcHttp2Server } from '../shared/grpc-http2-server.js';
import { createStreamTerminator } from '../shared/stream-terminator.js';
import { listenPrivately, prepareSocketPath } from '../runner/control-socket.js';
import type { Env } from '../shared/config.js';
import { hapiPaths } from '../shared/paths.js';
import { createOutputRing } from './terminal/output-ring.js';
import { openOutputSpool } from './terminal/output-spool.js';
import type { PtyHost } from './terminal/pty-host.js';
import { createScreenModel, type ScreenModel } from './terminal/screen-model.js';
import type { EarlyListener } from './terminal/socket-handover.js';
import { createTerminalSession, type TerminalSession } from './terminal/terminal-session.js';
import { createSessionService } from './session-service.js';
import { createActivityTracker } from './activity/activity-tracker.js';

/** How long viewers get to read the final output and exit status once the agent exited. */
const SHUTDOWN_GRACE_MS = 1_000;

export interface TerminalServerOptions {
  pty: PtyHost;
  identity: Pick<TerminalInfo, 'id' | 'agent' | 'directory' | 'startedBy' | 'pid'>;
  socketPath: string;
  env: Env;
  /** The listener holding the socket path since the start, if any; else the path is bound here. */
  early?: EarlyListener;
  scrollback: number;
  ringBytes: number;
  viewerWindowBytes: number;
  spoolMaxBytes: number;
  idleMs: number;
  approvalTimeoutMs: number;
  terminalActiveMs: number;
  onActivityChange?: () => void;
  note: (message: string) => void;
}

export interface TerminalServer {
  readonly terminal: TerminalSession;
  /** The model of the screen (what a typed prompt waits on). */
  readonly screen: ScreenModel;
  /** Ends the viewers' streams (after a grace to read the end) and removes the socket. */
  close(): Promise<void>;
}

/** Builds the terminal over the (held) PTY and serves it; a socket that cannot be served is only noted. */
export async function serveTerminal(o: TerminalServerOptions): Promise<TerminalServer> {
  const screen = createScreenModel({ cols: o.pty.cols, rows: o.pty.rows, scrollback: o.scrollback });
  // The tracker asks the terminal whether a person is at it; the terminal tells the tracker of output.
  let personAtTerminal = () => false;
  const activity = createActivityTracker({
    idleMs: o.idleMs,
    approvalTimeoutMs: o.approvalTimeoutMs,
    personAtTerminal: () => personAtTerminal(),
    onChange: () => o.onActivityChange?.(),
  });
  const terminal = createTerminalSession({
    pty: o.pty,
    screen,
    ring: createOutputRing(o.ringBytes),
    identity: o.identity,
    windowBytes: o.viewerWindowBytes,
    maxBacklogBytes: o.spoolMaxBytes,
    // Next to the session logs: on the disk that holds them, not in memory (a tmpfs runtime dir).
    openSpool: () => openOutputSpool(hapiPaths(o.env).sessionLogsDir, o.identity.id),
    onSpoolError: (err) => o.note(`the screen model parses in step with the output: its spool failed (${err instanceof Error ? err.message : String(err)})`),
    activity,
    // Under --expose-gc (SESSION_NODE_FLAGS); a session started without it does without.
    collectGarbage: (globalThis as { gc?: () => void }).gc,
  });
  personAtTerminal = () => terminal.personAtTerminal(o.terminalActiveMs);
  void terminal.exited.then(() => activity.exited());

  const terminator = createStreamTerminator();
  // node:http2, not grpc-js (grpc-http2-server.ts says why). The session's one log is its notes
  // (stderr, into the session log): no pino in this process either.
  const server = createGrpcHttp2Server(SessionServiceDefinition, createSessionService(terminal, terminator, activity), {
    onUnexpectedError: (err, method) => o.note(`unexpected error in gRPC handler (${method}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  });
  let listening = false;
  try {
    if (o.early) {
      o.early.serve((socket) => server.accept(socket));
    } else {
      await prepareSocketPath(o.socketPath, o.env);
      await listenPrivately(o.socketPath, () => server.listen(o.socketPath));
    }
    listening = true;
  } catch (err) {
    // The agent runs anyway: a session without a terminal socket is still a session.
    o.note(`cannot serve the session's terminal on ${o.socketPath}: ${err instanceof Error ? err.message : String(err)}`);
  }

  let closing: Promise<void> | undefined;
  return {
    terminal,
    screen,
    close() {
      closing ??= (async () => {
        const grace = new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref());
        await Promise.race([server.shutdown(), grace]);
        terminator.terminate();
        server.forceShutdown();
        activity.close();
        o.early?.close();
        // The path is ours when we listened there or the early listener held it.
        if (listening || o.early) rmSync(o.socketPath, { force: true });
        terminal.dispose();
        screen.dispose();
      })();
      return closing;
    },
  };
}
