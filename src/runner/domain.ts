/**
 * Domain types of the runner. Plain TypeScript: no generated proto types and no grpc here.
 * The types the runner shares with the hub, the CLI and session processes (sessions, spawn,
 * stop, reports) are the contract's (src/contract/types.ts); the converters between them and
 * the proto messages live in src/contract/ and are called at the transport edge.
 */
import type {
  SessionEnd,
  SessionEventKind,
  SessionInfo,
  SessionReport,
  SpawnOutcome,
  SpawnSpec,
  StopResult,
  StopTarget,
} from '../contract/types.js';

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
  /** One live session (starting or running), or undefined. */
  find(id: string): SessionInfo | undefined;
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
