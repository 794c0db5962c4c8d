/**
 * The plain-TypeScript side of an agent's activity (hapi.common.v1.AgentActivity) and of its
 * approval requests and decisions: what the session process, the runner, the hub, the CLI and
 * the page share, without depending on gen/. Names are the ones the JSON views use.
 */

/** What an agent is doing. */
export type ActivityStateName = 'working' | 'waiting_for_input' | 'needs_approval' | 'exited';

/** A decision on an approval request; 'none' leaves it to the agent's own prompt. */
export type ApprovalDecisionName = 'allow' | 'deny' | 'allow_session' | 'none';

/** Decisions a client may send. */
export const CLIENT_DECISIONS: readonly ApprovalDecisionName[] = ['allow', 'deny', 'allow_session'];

/** Longest description / message / notification kept. */
export const MAX_ACTIVITY_TEXT_CHARS = 1000;

/** Where an activity came from. */
export type ActivitySource = 'claude-hooks' | 'codex-hooks' | 'terminal';

/** One approval request of an agent (hapi.common.v1.ApprovalRequest). */
export interface ApprovalRequestInfo {
  id: string;
  tool: string;
  command: string;
  file: string;
  description: string;
  choices: ApprovalDecisionName[];
  requestedAt: Date;
  /** Left to the agent's prompt in its terminal; decisions through the hub are refused. */
  atTerminal: boolean;
}

/** A session's activity (hapi.common.v1.AgentActivity). */
export interface AgentActivityInfo {
  state: ActivityStateName;
  /** A guess from terminal output and silence, not the agent's hooks. */
  guess: boolean;
  message: string;
  requests: ApprovalRequestInfo[];
  since: Date;
  source: string;
}

/** What a hook asks for (hapi.session.v1.RequestApprovalRequest). */
export interface ApprovalAsk {
  tool: string;
  command: string;
  file: string;
  description: string;
  sessionAllowSupported: boolean;
  source: string;
}

/** The outcome a waiting hook gets. */
export interface ApprovalOutcome {
  requestId: string;
  decision: ApprovalDecisionName;
  message: string;
  /** With 'none': 'terminal' or 'timeout'. */
  reason: string;
}

/** Where a decision was made (hapi.hub.v1.DecisionOrigin). */
export type DecisionOriginName = 'page' | 'cli' | 'api' | 'telegram' | 'push';

/** A decision as the hub records it (hapi.hub.v1.ApprovalDecisionRecord). */
export interface ApprovalDecisionRecordInfo {
  machineId: string;
  sessionId: string;
  request: ApprovalRequestInfo;
  decision: ApprovalDecisionName;
  message: string;
  tokenId: string;
  decidedBy: string;
  origin: DecisionOriginName;
  decidedAt: Date;
}

/** Clips a text to MAX_ACTIVITY_TEXT_CHARS. */
export function clipActivityText(s: string): string {
  return s.length > MAX_ACTIVITY_TEXT_CHARS ? s.slice(0, MAX_ACTIVITY_TEXT_CHARS) : s;
}

/** Two activities say the same (for "did it change"). */
export function sameActivity(a: AgentActivityInfo | undefined, b: AgentActivityInfo | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.state !== b.state || a.guess !== b.guess || a.message !== b.message || a.source !== b.source || a.requests.length !== b.requests.length) return false;
  return a.requests.every((r, i) => r.id === b.requests[i]!.id && r.atTerminal === b.requests[i]!.atTerminal);
}
