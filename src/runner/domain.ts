/**
 * Domain types of the runner (and the parsing that belongs with them). Plain TypeScript: no
 * generated proto types and no grpc here.
 * Converters between these and the proto messages live at the transport edge
 * (src/runner/converters.ts).
 */

import { InvalidArgumentError } from '../shared/errors.js';

/** Who started a session. 'terminal' = a person ran `hapi` in a terminal. */
export type StartedBy = 'runner' | 'terminal';

export type SessionStateName = 'starting' | 'running' | 'ended';

export interface WorktreeInfo {
  path: string;
  branch: string;
  repository: string;
}

export interface SessionInfo {
  id: string;
  pid: number;
  /** OS start-time token of the process (src/shared/proc.ts); guards against PID reuse. */
  processStartTime?: string;
  startedBy: StartedBy;
  directory: string;
  agent: string;
  startedAt: Date;
  state: SessionStateName;
  endedAt?: Date;
  exitCode?: number;
  exitSignal?: string;
  worktree?: WorktreeInfo;
  /** Agent output log of a runner-spawned session. */
  logPath?: string;
  /** Idempotency key of the spawn request that created it. */
  requestId?: string;
}

export interface SpawnSpec {
  directory: string;
  /** Empty/undefined = the default agent ("claude"). */
  agent?: string;
  sessionId?: string;
  approveCreateDirectory: boolean;
  /** Present = create a git worktree; branch optional. */
  worktree?: { branch?: string };
  requestId?: string;
  agentArgs: string[];
}

export type SpawnOutcome =
  | { kind: 'session'; session: SessionInfo }
  | { kind: 'approval-required'; directory: string };

export type StopTarget = { sessionId: string } | { pid: number };

/** Reads a stop target as people and clients write it: a session id, or `PID-<n>`. */
export function parseStopTarget(text: string): StopTarget {
  const m = /^PID-(\d+)$/.exec(text);
  if (m) return { pid: Number(m[1]) };
  if (text.trim() === '') throw new InvalidArgumentError('session id must not be empty');
  return { sessionId: text };
}

export interface StopResult {
  result: 'stopped' | 'already-gone';
  sessionId: string;
}

/** What a session process reports about itself (gRPC SessionStarted, HTTP /session-started). */
export interface SessionReport {
  sessionId: string;
  hostPid: number;
  startedBy: StartedBy;
  directory?: string;
  agent?: string;
  startedAt?: Date;
}

export interface SessionEnd {
  sessionId: string;
  exitCode?: number;
  exitSignal?: string;
}

export type SessionEventKind = 'started' | 'ended' | 'adopted';

export interface SessionEvent {
  kind: SessionEventKind;
  session: SessionInfo;
}

/**
 * Everything the runner knows and does about sessions. One implementation
 * (src/runner/sessions/session-manager.ts); gRPC, the HTTP gateway and the hub link all call it.
 * Errors are the typed domain errors of src/shared/errors.ts.
 */
export interface SessionManager {
  /** Loads the durable registry and re-adopts every session still alive (same process start time). */
  start(): Promise<SessionInfo[]>;
  /** Live sessions (starting or running), oldest first. */
  list(): SessionInfo[];
  /** One spawn path for gRPC, HTTP and the hub. Blocks until the session reported or failed. */
  spawn(spec: SpawnSpec): Promise<SpawnOutcome>;
  /** SIGTERM to the process group, SIGKILL after the grace period. NotFoundError when unknown. */
  stop(target: StopTarget): Promise<StopResult>;
  /** A session reported itself. InvalidArgumentError on bad input. */
  reportStarted(report: SessionReport): SessionInfo;
  /** A session says its agent exited. Unknown ids are ignored. */
  reportEnded(end: SessionEnd): void;
  /** Heartbeat step 1: drop sessions whose process is dead; returns the dropped ones. */
  pruneDead(): SessionInfo[];
  /** Lifecycle events; returns an unsubscribe function. */
  subscribe(listener: (event: SessionEvent) => void): () => void;
  /** Stops timers and flushes the registry. Never touches session processes. */
  close(): Promise<void>;
}
