/**
 * The hub's REST view as the page receives it: proto3 JSON of hapi.hub.v1.Machine and
 * hapi.common.v1.Session (camelCase, enums by name, int64 as strings, timestamps as RFC 3339).
 * The hub sends every field (src/contract/json.ts): defaults as false, 0, "" or [], and null for
 * an unset time, exit code or sub-message.
 */

export type RunnerStatus = 'RUNNER_STATUS_UNSPECIFIED' | 'RUNNER_STATUS_RUNNING' | 'RUNNER_STATUS_SHUTTING_DOWN' | 'RUNNER_STATUS_LOST';
export type StartedBy = 'STARTED_BY_UNSPECIFIED' | 'STARTED_BY_RUNNER' | 'STARTED_BY_TERMINAL';
export type SessionState = 'SESSION_STATE_UNSPECIFIED' | 'SESSION_STATE_STARTING' | 'SESSION_STATE_RUNNING' | 'SESSION_STATE_ENDED';

export interface MachineMetadata {
  hostname?: string;
  platform?: string;
  arch?: string;
  cliVersion?: string;
  displayName?: string;
  homeDir?: string;
  agents?: string[];
}

export interface RunnerState {
  status?: RunnerStatus;
  pid?: number;
  startedAt?: string | null;
  shutdownReason?: string;
  lastSpawnError?: string;
  httpPort?: number;
  /** Set with RUNNER_STATUS_LOST: when the hub lost the runner. */
  lostAt?: string | null;
}

export interface Machine {
  id: string;
  metadata?: MachineMetadata | null;
  metadataVersion?: string;
  runnerState?: RunnerState | null;
  runnerStateVersion?: string;
  online?: boolean;
  lastAlive?: string | null;
  onlineSince?: string | null;
}

export interface Worktree {
  path?: string;
  branch?: string;
  repository?: string;
}

export interface Session {
  id: string;
  pid?: number;
  startedBy?: StartedBy;
  directory?: string;
  agent?: string;
  startedAt?: string | null;
  state?: SessionState;
  endedAt?: string | null;
  exitCode?: number | null;
  exitSignal?: string;
  worktree?: Worktree | null;
  machineId?: string;
  /** When the agent last wrote output (null before its first byte or when unknown). */
  lastOutputAt?: string | null;
  /** The last non-blank line of its terminal's screen, as text ("" when unknown). */
  lastLine?: string;
  /** What the agent is doing (null when unknown). */
  activity?: AgentActivity | null;
}

export type ActivityState = 'ACTIVITY_STATE_UNSPECIFIED' | 'ACTIVITY_STATE_WORKING' | 'ACTIVITY_STATE_WAITING_FOR_INPUT' | 'ACTIVITY_STATE_NEEDS_APPROVAL' | 'ACTIVITY_STATE_EXITED';
export type ApprovalDecision = 'APPROVAL_DECISION_ALLOW' | 'APPROVAL_DECISION_DENY' | 'APPROVAL_DECISION_ALLOW_SESSION' | 'APPROVAL_DECISION_NONE';

/** hapi.common.v1.ApprovalRequest. */
export interface ApprovalRequest {
  id: string;
  tool?: string;
  command?: string;
  file?: string;
  choices?: ApprovalDecision[];
  requestedAt?: string | null;
  description?: string;
  /** Left to the agent's own prompt in its terminal: answer there. */
  atTerminal?: boolean;
}

/** hapi.common.v1.AgentActivity. */
export interface AgentActivity {
  state?: ActivityState;
  guess?: boolean;
  message?: string;
  requests?: ApprovalRequest[];
  since?: string | null;
  source?: string;
}

/** A recorded decision (GET .../approvals). */
export interface DecisionRecord {
  request: { id: string; tool: string; command: string; file: string };
  decision: 'allow' | 'deny' | 'allow_session';
  message: string;
  decidedBy: string;
  origin: 'page' | 'cli' | 'api' | 'telegram' | 'push';
  decidedAt: string;
}

/** Who is signed in (from /auth/session or a sign-in). */
export interface SignedIn {
  namespace: string;
  owner: boolean;
  /** The sign-in's scope (its token's): TOKEN_SCOPE_FULL or TOKEN_SCOPE_READ_ONLY. Absent from an older hub: full. */
  scope?: string;
  csrfToken: string;
  via: 'token' | 'telegram';
  /** Only for a page embedded in another site's iframe (Telegram Web): its session id. */
  sessionToken?: string;
}

export interface SpawnRequest {
  directory: string;
  agent?: string;
  approveCreateDirectory?: boolean;
  worktree?: { branch?: string };
  requestId?: string;
  /** Extra arguments for the agent. */
  agentArgs?: string[];
  /** The agent's first input, its task. */
  prompt?: string;
}

export type SpawnResult =
  | { kind: 'session'; session: Session }
  | { kind: 'approval-required'; directory: string };
