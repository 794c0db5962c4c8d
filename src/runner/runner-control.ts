/**
 * The runner's service facade: what every transport calls (gRPC on the Unix socket, the HTTP
 * gateway, and the calls the hub relays down the hub link). Transports only decode, call this,
 * and encode, so a rule added here holds for all of them alike. Session operations wait while
 * the runner is still starting and fail with Unavailable once it shuts down. Every session id
 * and session text that comes in is checked here against the contract's one rule and limits
 * (src/contract/limits.ts), so no transport can let an invalid one through.
 */
import { UnavailableError } from '../shared/errors.js';
import { checkSessionEnd, checkSessionId, checkSessionReport, checkSpawnSpec } from '../contract/limits.js';
import type {
  RunnerStatusInfo, SessionEnd, SessionInfo, SessionReport, SessionScreenInfo, SessionTerminalInfo, SpawnOutcome, SpawnSpec, StopResult, StopTarget,
} from '../contract/types.js';
import type { AttachHello, SessionInput, ViewerEvent, ViewerMessage } from '../contract/session-types.js';
import type { ApprovalRequestInfo } from '../contract/activity-types.js';
import { isValidSessionId, type ApprovalDecisionCall } from '../contract/types.js';
import type { SessionEvent, SessionManager } from './domain.js';
import type { RunnerTerminals } from './terminals/runner-terminals.js';
import { NO_COUNTERS, type RunnerCounters } from './runner-counters.js';

/** The runner's status as the facade reports it: what GetStatus answers, plus what the hub link publishes. */
export interface RunnerStatus extends RunnerStatusInfo {
  /** Message of the last failed spawn; undefined after a successful one. */
  lastSpawnError?: string;
}

/**
 * Why the runner shuts down; logged, and it picks the exit code. 'service-restart' is the
 * hand-off of a runner under a service manager (the unit restarts it with the new build).
 */
export type ShutdownReason = 'os-signal' | 'cli' | 'hub' | 'exception' | 'handoff' | 'service-restart' | 'superseded' | 'startup-failure';

/** A subscription to session events, with the live sessions at the moment it began. */
export interface SessionWatch {
  /** Live sessions when the watch began; every later change reaches the listener. */
  sessions: SessionInfo[];
  unsubscribe(): void;
}

/**
 * The runner's operations. Session operations wait while the runner is still starting
 * (re-adopting sessions, linking to the hub) rather than fail; once shutdown has begun, or when
 * `signal` aborts first, they reject with Unavailable. Errors are the typed domain errors.
 */
export interface RunnerControl {
  /** Answers at any time, also while starting or shutting down. */
  status(): RunnerStatus;
  listSessions(signal?: AbortSignal): Promise<SessionInfo[]>;
  /**
   * Live sessions (and, with `includeEnded`, the ended ones the runner keeps, after them) with
   * their terminals' figures, which it waits for only a short while (terminals/).
   */
  listSessionTerminals(opts: { includeEnded: boolean }, signal?: AbortSignal): Promise<{ sessions: SessionInfo[]; terminals: Map<string, SessionTerminalInfo> }>;
  /**
   * A viewer attached through the runner: `rest` are its messages after the hello. Its events
   * until the session ends the stream, `signal` aborts, or an error (NotFound: unknown session;
   * FailedPrecondition: no terminal; the session's own errors pass through).
   */
  attachSession(sessionId: string, hello: AttachHello, rest: AsyncIterable<ViewerMessage>, signal: AbortSignal): Promise<AsyncIterable<ViewerEvent>>;
  /**
   * The same, each answer as the session encoded it (hapi.session.v1.AttachResponse bytes): the
   * hub link passes them on without decoding them (contract/attach-passthrough.ts).
   */
  attachSessionEncoded(sessionId: string, hello: AttachHello, rest: AsyncIterable<ViewerMessage>, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
  /** A live session's current screen, or an ended one's final screen and exit status. */
  getSessionScreen(sessionId: string, signal?: AbortSignal): Promise<SessionScreenInfo>;
  /** Types into a live session's terminal (its SendInput). NotFound / FailedPrecondition as for the screen. */
  sendSessionInput(sessionId: string, input: SessionInput, signal?: AbortSignal): Promise<void>;
  /** A session says its activity changed: read again, and told to the hub at once. */
  sessionActivityChanged(sessionId: string): void;
  /** Answers an approval request of a live session (its DecideApproval). */
  decideApproval(sessionId: string, call: ApprovalDecisionCall, signal?: AbortSignal): Promise<ApprovalRequestInfo>;
  /** The one spawn path. Blocks until the session reported itself or failed. */
  spawnSession(spec: SpawnSpec, signal?: AbortSignal): Promise<SpawnOutcome>;
  stopSession(target: StopTarget, signal?: AbortSignal): Promise<StopResult>;
  /** A session process reports itself. */
  sessionStarted(report: SessionReport, signal?: AbortSignal): Promise<SessionInfo>;
  /** A session process says its agent exited. */
  sessionEnded(end: SessionEnd, signal?: AbortSignal): Promise<void>;
  /** Lifecycle events from now on, with the live sessions as of now (no gap between the two). */
  watchSessions(listener: (event: SessionEvent) => void, signal?: AbortSignal): Promise<SessionWatch>;
  /** Starts a graceful shutdown and returns at once with the runner's PID. Sessions keep running. */
  stopRunner(reason: ShutdownReason): number;
}

/** The facade plus what the daemon's shutdown needs. */
export interface RunnerControlService extends RunnerControl {
  /**
   * Shutdown: waits up to `graceMs` for the calls in flight (readiness is already "stopping",
   * so no new ones start), then answers those still running with Unavailable "the runner is
   * shutting down", so every caller gets an answer before the servers close.
   */
  answerInFlight(graceMs: number): Promise<void>;
}

export interface RunnerControlDeps {
  readiness: Readiness;
  /** The session manager; set before the runner becomes ready. */
  sessions: () => SessionManager | undefined;
  /** The runner's side of session terminals; set with the session manager. */
  terminals?: () => RunnerTerminals | undefined;
  status: () => RunnerStatus;
  requestStop: (reason: ShutdownReason) => void;
  /** Spawns and stops are counted here, whichever transport asked. */
  counters?: RunnerCounters;
  /** A session's activity changed (the hub link reports at once). */
  onActivityChanged?: (sessionId: string) => void;
}

export function createRunnerControl(deps: RunnerControlDeps): RunnerControlService {
  const inFlight = createInFlight();
  const counters = deps.counters ?? NO_COUNTERS;
  const ready = async (signal?: AbortSignal): Promise<SessionManager> => {
    await deps.readiness.whenReady(signal);
    const manager = deps.sessions();
    if (!manager) throw new UnavailableError('runner has no session manager');
    return manager;
  };
  const terminals = (): RunnerTerminals => {
    const t = deps.terminals?.();
    if (!t) throw new UnavailableError('runner has no terminals');
    return t;
  };
  return {
    status: () => deps.status(),
    listSessions: (signal) => inFlight.track(async () => (await ready(signal)).list()),
    listSessionTerminals: (opts, signal) =>
      inFlight.track(async () => {
        const live = (await ready(signal)).list();
        const { ended, terminals: figures } = await terminals().describe(live, opts.includeEnded);
        return { sessions: [...live, ...ended], terminals: figures };
      }),
    async attachSession(sessionId, hello, rest, signal) {
      checkSessionId(sessionId);
      // Not tracked as a call in flight: a stream lasts; shutdown ends it through its signal.
      const manager = await ready(signal);
      return terminals().attach(manager.find(sessionId), sessionId, hello, rest, signal);
    },
    async attachSessionEncoded(sessionId, hello, rest, signal) {
      checkSessionId(sessionId);
      const manager = await ready(signal);
      return terminals().attachEncoded(manager.find(sessionId), sessionId, hello, rest, signal);
    },
    getSessionScreen: (sessionId, signal) =>
      inFlight.track(async () => {
        checkSessionId(sessionId);
        const manager = await ready(signal);
        return terminals().screen(manager.find(sessionId), sessionId, signal ?? AbortSignal.timeout(10_000));
      }),
    sendSessionInput: (sessionId, input, signal) =>
      inFlight.track(async () => {
        checkSessionId(sessionId);
        const manager = await ready(signal);
        await terminals().send(manager.find(sessionId), sessionId, input, signal ?? AbortSignal.timeout(10_000));
      }),
    sessionActivityChanged(sessionId) {
      if (!isValidSessionId(sessionId)) return;
      deps.terminals?.()?.activityChanged(sessionId);
      deps.onActivityChanged?.(sessionId);
    },
    decideApproval: (sessionId, call, signal) =>
      inFlight.track(async () => {
        checkSessionId(sessionId);
        const manager = await ready(signal);
        return terminals().decide(manager.find(sessionId), sessionId, call, signal ?? AbortSignal.timeout(10_000));
      }),
    spawnSession: (spec, signal) =>
      inFlight.track(async () => {
        checkSpawnSpec(spec);
        const manager = await ready(signal);
        try {
          const outcome = await manager.spawn(spec);
          if (outcome.kind === 'session') counters.count('spawns');
          return outcome;
        } catch (err) {
          counters.count('spawnFailures');
          throw err;
        }
      }),
    stopSession: (target, signal) =>
      inFlight.track(async () => {
        if ('sessionId' in target) checkSessionId(target.sessionId);
        const result = await (await ready(signal)).stop(target);
        if (result.result === 'stopped') counters.count('stops');
        return result;
      }),
    sessionStarted: (report, signal) =>
      inFlight.track(async () => {
        checkSessionReport(report);
        return (await ready(signal)).reportStarted(report);
      }),
    sessionEnded: (end, signal) =>
      inFlight.track(async () => {
        checkSessionEnd(end);
        const manager = await ready(signal);
        const t = deps.terminals?.();
        t?.beforeSessionEnded(end);
        manager.reportEnded(end);
        t?.afterSessionEnded(end);
      }),
    async watchSessions(listener, signal) {
      const manager = await ready(signal);
      // Subscribe and list in one synchronous step, so no event falls between the two.
      const unsubscribe = manager.subscribe(listener);
      return { sessions: manager.list(), unsubscribe };
    },
    stopRunner(reason) {
      const pid = deps.status().pid;
      deps.requestStop(reason);
      return pid;
    },
    answerInFlight: (graceMs) => inFlight.answerAll(graceMs),
  };
}

/** The control calls under way, so a shutdown can answer every one of them. */
function createInFlight() {
  const calls = new Set<Promise<unknown>>();
  let giveUp!: (err: Error) => void;
  const givenUp = new Promise<never>((_resolve, reject) => (giveUp = reject));
  givenUp.catch(() => undefined);
  return {
    track<T>(run: () => Promise<T>): Promise<T> {
      const call = Promise.race([run(), givenUp]);
      calls.add(call);
      const forget = () => calls.delete(call);
      call.then(forget, forget);
      return call;
    },
    async answerAll(graceMs: number): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.allSettled([...calls]), graceOver]);
      clearTimeout(timer);
      giveUp(new UnavailableError('the runner is shutting down'));
      // Let the transports write those answers before their servers close.
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

export type RunnerPhase = 'starting' | 'ready' | 'stopping';

/** The starting -> ready -> stopping life of a runner, with waiters for "ready". */
export interface Readiness {
  phase(): RunnerPhase;
  set(phase: 'ready' | 'stopping'): void;
  whenReady(signal?: AbortSignal): Promise<void>;
}

export function createReadiness(): Readiness {
  let phase: RunnerPhase = 'starting';
  const waiters = new Set<(phase: RunnerPhase) => void>();
  const stopping = () => new UnavailableError('runner is shutting down');
  return {
    phase: () => phase,
    set(next) {
      if (phase === 'stopping') return;
      phase = next;
      for (const wake of [...waiters]) wake(next);
    },
    whenReady(signal) {
      if (phase === 'ready') return Promise.resolve();
      if (phase === 'stopping') return Promise.reject(stopping());
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          waiters.delete(wake);
          signal?.removeEventListener('abort', onAbort);
        };
        const wake = (p: RunnerPhase) => {
          done();
          if (p === 'ready') resolve();
          else reject(stopping());
        };
        const onAbort = () => {
          done();
          reject(new UnavailableError('runner is still starting'));
        };
        if (signal?.aborted) return onAbort();
        waiters.add(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
