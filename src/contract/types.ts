/**
 * The plain-TypeScript side of the contract: the types the runner, the hub, the CLI and the
 * session process share, and the rules that belong to them (session ids, stop targets, the
 * protocol version, the documented started-by label). No generated code is imported here, so
 * domain code can use these types without depending on gen/; the converters to and from the
 * proto messages live next to this file (common.ts, runner.ts, hub.ts, machine-link.ts).
 */
import { InvalidArgumentError } from '../shared/errors.js';
import type { LogWriteHealth } from '../shared/logger.js';
import type { ExitStatus, ScreenText, SessionInput } from './session-types.js';
import type { AgentActivityInfo, ApprovalDecisionName, ApprovalRequestInfo } from './activity-types.js';

/** A decision on one request of a session (hapi.session.v1.DecideApprovalRequest). */
export interface ApprovalDecisionCall {
  requestId: string;
  decision: Exclude<ApprovalDecisionName, 'none'>;
  message: string;
}

/** Protocol version of MachineService.Connect that this build speaks (hello and welcome). */
export const PROTOCOL_VERSION = 1;

// ------------------------------------------------------------------ sessions

/** Who started a session. 'terminal' = a person ran `hapi` in a terminal. */
export type StartedBy = 'runner' | 'terminal';

/**
 * How the documentation labels sessions a person started from a terminal (`hapi runner list`
 * and the HTTP gateway's `/list`; the gateway also accepts it as input).
 */
export const TERMINAL_LABEL = 'hapi directly - likely by user from terminal';

/**
 * Session ids end up in file names and command lines: 1-128 letters, digits, '.', '_' or '-',
 * starting with a letter or digit. The runner checks spawn requests and the session process
 * checks `--hapi-session-id` against this one rule.
 */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True when `id` follows SESSION_ID_PATTERN. */
export function isValidSessionId(id: string): boolean {
  return SESSION_ID_PATTERN.test(id);
}

export type SessionStateName = 'starting' | 'running' | 'ended';

export interface WorktreeInfo {
  path: string;
  branch: string;
  repository: string;
}

/** Longest last line the hub keeps (machine.proto, SessionActivityEntry.last_line). */
export const MAX_ACTIVITY_LINE_CHARS = 200;

/** What a live session's terminal showed lately (hapi.hub.v1.SessionActivityEntry). */
export interface SessionActivityInfo {
  sessionId: string;
  lastOutputAt?: Date;
  lastLine: string;
  /** What the agent is doing; undefined when the session does not say. */
  activity?: AgentActivityInfo;
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
  /** The agent's first input (limits.ts checkPrompt); undefined or empty = none. */
  prompt?: string;
}

export type SpawnOutcome =
  | { kind: 'session'; session: SessionInfo }
  | { kind: 'approval-required'; directory: string };

/** What `stop` aims at: a session by id, or whatever session runs as this PID. */
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
  /** The terminal's final visible screen, when the session had a terminal. */
  finalScreen?: ScreenText;
}

/** A session's terminal as the runner knows it (RunnerService.ListSessions' `terminals`). */
export interface SessionTerminalInfo {
  /** AttachSession / GetSessionScreen can reach it (a live terminal, or a kept ended session). */
  attachable: boolean;
  /** hapi.session.v1 protocol version the session serves; 0 when unknown or ended. */
  protocolVersion: number;
  viewers: number;
  lastOutputAt?: Date;
  /** An ended session the runner keeps. */
  ended: boolean;
  exitStatus?: ExitStatus;
  /** When the figures were last read from the session's socket. */
  checkedAt?: Date;
  /** Why it is not attachable; undefined when attachable. */
  detail?: string;
  /** What the agent is doing, from the session's GetInfo. */
  activity?: AgentActivityInfo;
}

/** A session's screen as the runner answers it (RunnerService.GetSessionScreen). */
export interface SessionScreenInfo {
  /** Undefined: an ended session whose final screen the runner never received. */
  screen?: ScreenText;
  ended: boolean;
  exitStatus?: ExitStatus;
  endedAt?: Date;
}

/** A session lifecycle event, as the runner announces it locally and to its hub. */
export type SessionEventKind = 'started' | 'ended' | 'adopted';

// ------------------------------------------------------------------ runner status (RunnerService.GetStatus)

export type HubLinkStateName = 'not-configured' | 'connecting' | 'connected' | 'reconnecting';

export interface HubLinkStatus {
  state: HubLinkStateName;
  hubUrl?: string;
  lastError?: string;
  machineId?: string;
  namespace?: string;
  connectedSince?: Date;
}

export interface RunnerStatusInfo {
  pid: number;
  startedAt: Date;
  cliVersion: string;
  cliMtimeMs: number;
  cliPath: string;
  httpPort: number;
  socketPath: string;
  lastHeartbeat?: Date;
  logPath: string;
  /** Failed log writes are dropped and counted here; the runner keeps serving. */
  logWrites: LogWriteHealth;
  hubLink: HubLinkStatus;
  sessionCount: number;
  hapiHome: string;
  workspaceRoots: string[];
  /** Finished starting and serving session calls. */
  ready: boolean;
  /** What the runner process did since it started (src/runner/runner-counters.ts), plus its failed log writes. */
  counters: RunnerCountersInfo;
}

/** GetStatusResponse.counters. */
export interface RunnerCountersInfo {
  spawns: number;
  spawnFailures: number;
  stops: number;
  hubReconnects: number;
  hubLinkFailures: number;
  relayedCalls: number;
  relayedCallFailures: number;
  logWriteFailures: number;
}

// ------------------------------------------------------------------ machines (MachineService.Connect, HubService)

/** Static facts about a machine, sent by its runner. */
export interface MachineMetadataInfo {
  hostname: string;
  platform: string;
  arch: string;
  cliVersion: string;
  displayName: string;
  homeDir: string;
  agents: string[];
}

/** 'lost': set by the hub when a runner's stream ended while it said running (see the proto). */
export type RunnerStatusName = 'unspecified' | 'running' | 'shutting-down' | 'lost';

/** Dynamic runner state, versioned by the hub. */
export interface RunnerStateInfo {
  status: RunnerStatusName;
  pid: number;
  startedAt?: Date;
  shutdownReason: string;
  lastSpawnError: string;
  httpPort: number;
  /** When the hub lost the runner (status 'lost' only). */
  lostAt?: Date;
}

/** A machine as HubService shows it (the hub's record adds what it keeps to itself). */
export interface MachineInfo {
  id: string;
  metadata: MachineMetadataInfo;
  metadataVersion: number;
  runnerState: RunnerStateInfo;
  runnerStateVersion: number;
  online: boolean;
  lastAlive?: Date;
  /** When `online` last changed. */
  onlineSince?: Date;
}

/** What the runner reports about itself in answer to a status request. */
export interface RunnerStatusReportInfo {
  pid: number;
  cliVersion: string;
  sessionCount: number;
  startedAt?: Date;
}

/** Which versioned value an update (and its result) is about. */
export type UpdateKindName = 'metadata' | 'runner-state';

/** A call relayed from the hub down a runner's stream. */
export type RelayCall =
  | { method: 'spawn'; spec: SpawnSpec }
  | { method: 'stop-session'; sessionId: string }
  | { method: 'stop-runner' }
  | { method: 'status' }
  | { method: 'session-screen'; sessionId: string }
  | { method: 'send-input'; sessionId: string; input: SessionInput }
  | { method: 'decide-approval'; sessionId: string; decision: ApprovalDecisionCall };

/** The runner's successful answer, by method. */
export type RelayResult =
  | { method: 'spawn'; outcome: SpawnOutcome }
  | { method: 'stop-session'; result: StopResult['result'] }
  | { method: 'stop-runner' }
  | { method: 'status'; report: RunnerStatusReportInfo }
  | { method: 'session-screen'; screen: SessionScreenInfo }
  | { method: 'send-input' }
  | { method: 'decide-approval'; request: ApprovalRequestInfo };

/** What a hub token may do (hapi.hub.v1.TokenScope): `full`, or `read-only` (look, never change). */
export type TokenScope = 'full' | 'read-only';

/** The namespace rule: a token's namespace, and a Telegram user's in HAPI_TELEGRAM_USERS. */
export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
