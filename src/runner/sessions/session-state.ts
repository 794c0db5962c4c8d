/**
 * The state the SessionManager's units share, passed to each of them explicitly: spawn
 * (spawn-session.ts), stop (stop-session.ts), reports from sessions (session-reports.ts),
 * re-adoption and pruning (adopt-sessions.ts). Also the few operations on it that several of
 * them need: announcing an event, recording a session's end, tracking a background kill.
 */
import type { RunnerConfig } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import type { HapiPaths } from '../../shared/paths.js';
import type { SessionInfo, SpawnOutcome, StopResult } from '../../contract/types.js';
import type { SessionEvent } from '../domain.js';
import type { TerminateOptions } from './process-tree.js';
import type { SessionRegistry } from './session-registry.js';
import type { LaunchedSession } from './spawner.js';

/** Ended sessions remembered for idempotent retries and `stop` of a gone session. */
export const RECENT_ENDED_LIMIT = 1000;

/** The part of the runner's configuration the SessionManager uses. */
export type SessionConfig = Pick<RunnerConfig, 'sessionReportTimeoutMs' | 'maxSessions' | 'sessionStopGraceMs'>;

/** A spawn between its launch and its session's report (or failure). */
export interface PendingSpawn {
  sessionId: string;
  /** Set once the process runs; a report before that is told to retry. */
  launched?: LaunchedSession;
  resolve(session: SessionInfo): void;
  reject(err: Error): void;
}

/** How a session ended, as far as anyone knows. */
export interface SessionExit {
  exitCode?: number;
  exitSignal?: string;
}

export interface SessionState {
  readonly log: Logger;
  readonly paths: HapiPaths;
  readonly config: SessionConfig;
  /** The durable registry: the sessions this runner tracks (starting or running). */
  readonly registry: SessionRegistry;
  readonly listeners: Set<(event: SessionEvent) => void>;
  /** Spawns between reservation and their session's report (or failure). */
  readonly pending: Map<string, PendingSpawn>;
  /** Ids reserved by spawns that have not launched yet (count toward maxSessions). */
  readonly reserved: Set<string>;
  /** requestId -> the spawn in flight for it. */
  readonly inflightByRequest: Map<string, Promise<SpawnOutcome>>;
  /** requestId -> sessionId of completed spawns, bounded like recentEnded. */
  readonly requestIndex: Map<string, string>;
  readonly recentEnded: Map<string, SessionInfo>;
  /** sessionId -> the stop in progress for it. */
  readonly stopping: Map<string, Promise<StopResult>>;
  /** Background kills (orphans, stale 'starting' entries) that close() waits for. */
  readonly background: Set<Promise<unknown>>;
  /** Every spawn in flight, so close() can wait for their cleanup. */
  readonly inflightSpawns: Set<Promise<SpawnOutcome>>;
  /** Message of the last failed spawn; undefined after a successful one. */
  lastSpawnError: string | undefined;
  /** close() started: no new spawns or reports. */
  closing: boolean;
  /** close() finished its cleanup: no more registry writes (a new runner may own the file). */
  closed: boolean;
}

/** Fresh state: nothing tracked, nothing in flight. */
export function createSessionState(deps: Pick<SessionState, 'log' | 'paths' | 'config' | 'registry'>): SessionState {
  return {
    ...deps,
    listeners: new Set(),
    pending: new Map(),
    reserved: new Set(),
    inflightByRequest: new Map(),
    requestIndex: new Map(),
    recentEnded: new Map(),
    stopping: new Map(),
    background: new Set(),
    inflightSpawns: new Set(),
    lastSpawnError: undefined,
    closing: false,
    closed: false,
  };
}

/** Sets `key` as the newest entry of `map`, dropping the oldest beyond RECENT_ENDED_LIMIT. */
export function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > RECENT_ENDED_LIMIT) map.delete(map.keys().next().value as K);
}

/** Tells every listener; one that throws is logged and does not stop the others. */
export function emit(state: SessionState, kind: SessionEvent['kind'], session: SessionInfo): void {
  const event: SessionEvent = { kind, session: { ...session } };
  for (const listener of state.listeners) {
    try {
      listener(event);
    } catch (err) {
      state.log.error({ err, kind }, 'session event listener threw');
    }
  }
}

/** Runs `p` in the background; close() waits for it, and a failure is logged. */
export function track(state: SessionState, p: Promise<unknown>): void {
  const wrapped = p
    .catch((err) => state.log.error({ err }, 'background session task failed'))
    .finally(() => state.background.delete(wrapped));
  state.background.add(wrapped);
}

/** Removes a live session and announces its end. Idempotent; no-op after close(). */
export function markEnded(state: SessionState, id: string, end: SessionExit = {}): SessionInfo | undefined {
  if (state.closed) return undefined;
  const session = state.registry.remove(id);
  if (!session) return undefined;
  return finishEnded(state, session, end);
}

/** Records the end of a session already removed from the registry, and announces it. */
export function finishEnded(state: SessionState, session: SessionInfo, end: SessionExit): SessionInfo {
  const ended: SessionInfo = { ...session, state: 'ended', endedAt: new Date(), exitCode: end.exitCode, exitSignal: end.exitSignal };
  remember(state.recentEnded, session.id, ended);
  if (session.requestId) remember(state.requestIndex, session.requestId, session.id);
  // A spawn that never reported was never announced as started, so it does not "end" either.
  if (session.state === 'running') {
    state.log.info({ sessionId: session.id, sessionPid: session.pid, exitCode: end.exitCode, exitSignal: end.exitSignal }, 'session ended');
    emit(state, 'ended', ended);
  }
  return ended;
}

/** What terminateProcess needs to find a session's whole tree, and the grace. */
export function treeOf(state: SessionState, sessionId: string): Pick<TerminateOptions, 'sessionId' | 'hapiHome' | 'graceMs'> {
  return { sessionId, hapiHome: state.paths.home, graceMs: state.config.sessionStopGraceMs };
}
