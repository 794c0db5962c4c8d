/**
 * The runner's side of live sessions (DESIGN.md, "Live sessions"): what RunnerControl calls for
 * the terminal figures of ListSessions, AttachSession (a proxy to the session's own socket) and
 * GetSessionScreen, and the ended sessions it keeps (ended-sessions.ts). It follows the session
 * manager's events: a started or re-adopted session is looked at (terminal-directory.ts), an
 * ended one is kept with the final screen its SessionEnded report carried.
 */
import type { ScreenText, SessionInput, ViewerEvent, ViewerMessage, AttachHello } from '../../contract/session-types.js';
import type { ApprovalDecisionCall, SessionActivityInfo, SessionEnd, SessionInfo, SessionScreenInfo, SessionTerminalInfo } from '../../contract/types.js';
import { FailedPreconditionError, NotFoundError, isHapiError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { SessionEvent } from '../domain.js';
import { createEndedSessions, type EndedSessions, type KeptSession } from './ended-sessions.js';
import { encodedViewerEvent } from '../../contract/session-passthrough.js';
import { attachTerminal, attachTerminalEncoded, decideTerminalApproval, getTerminalInfo, getTerminalScreen, sendTerminalInput } from './session-link.js';
import type { ApprovalRequestInfo } from '../../contract/activity-types.js';
import { createSessionActivityWatch } from './session-activity.js';
import { createTerminalDirectory, NO_SOCKET_DETAIL, type TerminalDirectory } from './terminal-directory.js';
import { existsSync } from 'node:fs';

/** How long a list waits for fresh terminal figures before it answers with the last known ones. */
export const LIST_WAIT_MS = 300;
/** How often kept ended sessions are checked for expiry. */
const PRUNE_INTERVAL_MS = 60_000;

export interface RunnerTerminals {
  /** Feed of the session manager's events (subscribe before it re-adopts sessions). */
  onSessionEvent(event: SessionEvent): void;
  /** Called with a SessionEnded report before the manager records the end: keeps its final screen. */
  beforeSessionEnded(end: SessionEnd): void;
  /** After the manager recorded it: a report that came after the end was recorded still adds its screen. */
  afterSessionEnded(end: SessionEnd): void;
  /** Terminal figures of these live sessions, plus every kept ended session when asked. */
  describe(live: SessionInfo[], includeEnded: boolean): Promise<{ ended: SessionInfo[]; terminals: Map<string, SessionTerminalInfo> }>;
  /**
   * AttachSession: proxied to a live session's socket, or a kept ended session's final screen
   * then `exited`. NotFound / FailedPrecondition as documented in runner.proto.
   */
  attach(live: SessionInfo | undefined, sessionId: string, hello: AttachHello, rest: AsyncIterable<ViewerMessage>, signal: AbortSignal): AsyncIterable<ViewerEvent>;
  /** The same, each answer as the session encoded it (AttachResponse bytes): the hub link's pass-through. */
  attachEncoded(live: SessionInfo | undefined, sessionId: string, hello: AttachHello, rest: AsyncIterable<ViewerMessage>, signal: AbortSignal): AsyncIterable<Uint8Array>;
  screen(live: SessionInfo | undefined, sessionId: string, signal: AbortSignal): Promise<SessionScreenInfo>;
  /** Types into a live session. NotFound: unknown or ended; FailedPrecondition: no terminal. */
  send(live: SessionInfo | undefined, sessionId: string, input: SessionInput, signal: AbortSignal): Promise<void>;
  /** Answers an approval request of a live session. NotFound: unknown; FailedPrecondition: ended or not pending. */
  decide(live: SessionInfo | undefined, sessionId: string, call: ApprovalDecisionCall, signal: AbortSignal): Promise<ApprovalRequestInfo>;
  /** A session said its activity changed: the next list reads it again. */
  activityChanged(sessionId: string): void;
  /** Live terminals' last output time and last line, for the hub (session-activity.ts). */
  activity(fresh: boolean, only?: string[]): Promise<SessionActivityInfo[]>;
  close(): void;
}

export interface RunnerTerminalsOptions {
  endedDir: string;
  keepMs: number;
  socketFor: (sessionId: string) => string;
  log: Logger;
}

export function createRunnerTerminals(o: RunnerTerminalsOptions): RunnerTerminals {
  const directory: TerminalDirectory = createTerminalDirectory({ socketFor: o.socketFor, getInfo: getTerminalInfo, log: o.log });
  const activity = createSessionActivityWatch({
    ids: () => directory.ids(),
    socketFor: (id) => directory.socket(id),
    getInfo: getTerminalInfo,
    // The last line may lag a flood; waiting for the parser would slow the agent down.
    // The text is all a last line needs.
    getScreen: (socket, signal) => getTerminalScreen(socket, signal, { noWait: true, textOnly: true }),
  });
  const ended: EndedSessions = createEndedSessions({ dir: o.endedDir, keepMs: o.keepMs, log: o.log });
  ended.load();
  const pruner = setInterval(() => ended.prune(), Math.max(1_000, Math.min(PRUNE_INTERVAL_MS, o.keepMs)));
  pruner.unref();
  /** Final screens reported with SessionEnded, held until the manager announces the end. */
  const finalScreens = new Map<string, ScreenText>();

  const keptScreen = (k: KeptSession, hello?: AttachHello): ViewerEvent => {
    const size = k.screen ?? { cols: hello?.size?.cols ?? 80, rows: hello?.size?.rows ?? 24 };
    return {
      kind: 'snapshot',
      snapshot: { ansi: k.screen?.ansi || k.screen?.text.replace(/\n/g, '\r\n') || '', cursor: k.screen?.cursor ?? { x: 0, y: 0 }, cols: size.cols, rows: size.rows, offset: k.screen?.offset ?? 0 },
    };
  };
  const exitOf = (s: SessionInfo) => ({ exitCode: s.exitCode, exitSignal: s.exitSignal });

  function liveSocket(live: SessionInfo): string {
    const socket = directory.socket(live.id);
    if (!existsSync(socket)) throw new FailedPreconditionError(`session ${live.id} has no terminal to attach to (${NO_SOCKET_DETAIL})`, { sessionId: live.id });
    return socket;
  }


  /** AttachSession over `link` (decoded events, or the session's encoded answers); `fromEvent` shapes the ended-session path alike. */
  async function* attachWith<T>(
    live: SessionInfo | undefined,
    sessionId: string,
    hello: AttachHello,
    rest: AsyncIterable<ViewerMessage>,
    signal: AbortSignal,
    link: (socket: string, messages: AsyncIterable<ViewerMessage>, signal: AbortSignal) => AsyncIterable<T>,
    fromEvent: (e: ViewerEvent) => T,
  ): AsyncIterable<T> {
    if (live) {
      const socket = liveSocket(live);
      async function* messages() {
        yield { kind: 'hello', hello } as ViewerMessage;
        yield* rest;
      }
      let sent = false;
      try {
        for await (const event of link(socket, messages(), signal)) {
          // Its viewer count changed: the next list asks the session again.
          if (!sent) directory.invalidate(sessionId);
          sent = true;
          yield event;
        }
        return;
      } catch (err) {
        // The session ended between the lookup and the call: show how it ended.
        if (sent || !isHapiError(err) || err.kind !== 'Unavailable' || !ended.session(sessionId)) throw err;
      } finally {
        directory.invalidate(sessionId);
      }
    }
    const kept = ended.get(sessionId);
    if (!kept) throw new NotFoundError(`no session ${sessionId} on this machine`, { sessionId });
    yield fromEvent(keptScreen(kept, hello));
    yield fromEvent({ kind: 'exited', status: exitOf(kept.session) });
  }

  return {
    onSessionEvent(e) {
      if (e.kind === 'started' || e.kind === 'adopted') directory.track(e.session.id);
      else {
        directory.forget(e.session.id);
        const screen = finalScreens.get(e.session.id);
        finalScreens.delete(e.session.id);
        ended.keep(e.session, screen);
      }
    },
    beforeSessionEnded(end) {
      if (end.finalScreen) finalScreens.set(end.sessionId, end.finalScreen);
    },
    afterSessionEnded(end) {
      finalScreens.delete(end.sessionId);
      // The end was recorded earlier (a stop, a prune) without the screen: add it now.
      const kept = ended.get(end.sessionId);
      if (kept && !kept.screen && end.finalScreen) {
        const exit = kept.session.exitCode === undefined && !kept.session.exitSignal ? { exitCode: end.exitCode, exitSignal: end.exitSignal } : {};
        ended.keep({ ...kept.session, ...exit }, end.finalScreen);
      }
    },
    async describe(live, includeEnded) {
      const terminals = await directory.describe(
        live.map((s) => s.id),
        LIST_WAIT_MS,
      );
      const endedSessions = includeEnded ? ended.list().filter((s) => !terminals.has(s.id)) : [];
      for (const s of endedSessions) terminals.set(s.id, { attachable: true, protocolVersion: 0, viewers: 0, ended: true, exitStatus: exitOf(s) });
      return { ended: endedSessions, terminals };
    },
    attach: (live, sessionId, hello, rest, signal) => attachWith(live, sessionId, hello, rest, signal, attachTerminal, (e) => e),
    attachEncoded: (live, sessionId, hello, rest, signal) => attachWith(live, sessionId, hello, rest, signal, attachTerminalEncoded, encodedViewerEvent),
    async screen(live, sessionId, signal) {
      if (live) {
        try {
          return { screen: await getTerminalScreen(liveSocket(live), signal), ended: false };
        } catch (err) {
          if (!isHapiError(err) || err.kind !== 'Unavailable' || !ended.session(sessionId)) throw err;
        }
      }
      const kept = ended.get(sessionId);
      if (!kept) throw new NotFoundError(`no session ${sessionId} on this machine`, { sessionId });
      return { screen: kept.screen, ended: true, exitStatus: exitOf(kept.session), endedAt: kept.session.endedAt };
    },
    async send(live, sessionId, input, signal) {
      if (!live) {
        if (ended.get(sessionId)) throw new FailedPreconditionError(`session ${sessionId} has ended`, { sessionId });
        throw new NotFoundError(`no session ${sessionId} on this machine`, { sessionId });
      }
      await sendTerminalInput(liveSocket(live), input, signal);
    },
    async decide(live, sessionId, call, signal) {
      if (!live) {
        if (ended.get(sessionId)) throw new FailedPreconditionError(`session ${sessionId} has ended`, { sessionId });
        throw new NotFoundError(`no session ${sessionId} on this machine`, { sessionId });
      }
      const request = await decideTerminalApproval(liveSocket(live), call, signal);
      directory.invalidate(sessionId);
      return request;
    },
    activityChanged: (sessionId) => directory.invalidate(sessionId),
    activity: (fresh, only) => activity.poll(fresh, only),
    close() {
      clearInterval(pruner);
    },
  };
}
