/**
 * Database rows <-> domain records, for both adapters (SQLite and PostgreSQL keep the same
 * columns): times as epoch milliseconds, flags as 0/1, JSON columns as text.
 */
import type { MachineMetadataInfo, RunnerStateInfo } from '../../contract/types.js';
import type { AgentActivityInfo, ApprovalDecisionRecordInfo, ApprovalRequestInfo } from '../../contract/activity-types.js';
import type { HubSession, MachineRecord, TokenRecord, WebSessionRecord } from '../domain/types.js';

export function ms(d: Date | undefined): number | null {
  return d ? d.getTime() : null;
}
function date(v: unknown): Date | undefined {
  return typeof v === 'number' ? new Date(v) : undefined;
}

export interface MachineRow {
  id: string;
  namespace: string;
  metadata: string;
  metadata_version: number;
  runner_state: string;
  runner_state_version: number;
  online: number;
  last_alive: number | null;
  online_since: number | null;
}

export interface SessionRow {
  machine_id: string;
  id: string;
  namespace: string;
  pid: number;
  directory: string;
  agent: string;
  state: string;
  started_by: string;
  started_at: number | null;
  ended_at: number | null;
  exit_code: number | null;
  exit_signal: string | null;
  worktree: string | null;
  request_id: string | null;
  /** activityToStored's text (migration 11); absent before it. */
  activity?: string | null;
}

export interface TokenRow {
  id: string;
  namespace: string;
  label: string;
  owner: number;
  scope: string;
  created_at: number;
  revoked_at: number | null;
}

function runnerStateFromJson(text: string): RunnerStateInfo {
  const raw = JSON.parse(text) as Omit<RunnerStateInfo, 'startedAt' | 'lostAt'> & { startedAt?: number; lostAt?: number };
  return { ...raw, startedAt: date(raw.startedAt), lostAt: date(raw.lostAt) };
}
export function runnerStateToJson(s: RunnerStateInfo): string {
  return JSON.stringify({ ...s, startedAt: ms(s.startedAt) ?? undefined, lostAt: ms(s.lostAt) ?? undefined });
}

export function machineFromRow(r: MachineRow): MachineRecord {
  return {
    id: r.id,
    namespace: r.namespace,
    metadata: JSON.parse(r.metadata) as MachineMetadataInfo,
    metadataVersion: r.metadata_version,
    runnerState: runnerStateFromJson(r.runner_state),
    runnerStateVersion: r.runner_state_version,
    online: r.online === 1,
    lastAlive: date(r.last_alive),
    onlineSince: date(r.online_since),
  };
}

export function sessionFromRow(r: SessionRow): HubSession {
  return {
    id: r.id,
    machineId: r.machine_id,
    namespace: r.namespace,
    pid: r.pid,
    directory: r.directory,
    agent: r.agent,
    state: r.state as HubSession['state'],
    startedBy: r.started_by as HubSession['startedBy'],
    startedAt: date(r.started_at) ?? new Date(0),
    endedAt: date(r.ended_at),
    exitCode: r.exit_code ?? undefined,
    exitSignal: r.exit_signal ?? undefined,
    worktree: r.worktree ? (JSON.parse(r.worktree) as HubSession['worktree']) : undefined,
    requestId: r.request_id ?? undefined,
    sharedActivity: r.activity ? activityFromStored(r.activity) : undefined,
  };
}

/** The sessions.activity column's text: the activity as JSON, dates as ISO strings. */
export function activityToStored(a: AgentActivityInfo | undefined): string | null {
  return a ? JSON.stringify(a) : null;
}

/** activityToStored's text back; undefined for text it cannot read (written by a newer replica, say). */
export function activityFromStored(text: string): AgentActivityInfo | undefined {
  try {
    const a = JSON.parse(text) as AgentActivityInfo & { since: string; requests: (ApprovalRequestInfo & { requestedAt: string })[] };
    if (typeof a?.state !== 'string' || !Array.isArray(a.requests)) return undefined;
    return { ...a, since: new Date(a.since), requests: a.requests.map((r) => ({ ...r, requestedAt: new Date(r.requestedAt) })) };
  } catch {
    return undefined;
  }
}

export function tokenFromRow(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    namespace: r.namespace,
    label: r.label,
    owner: r.owner === 1,
    scope: r.scope === 'read-only' ? 'read-only' : 'full',
    createdAt: new Date(r.created_at),
    revokedAt: date(r.revoked_at),
  };
}

export function webSessionFromRow(r: Record<string, unknown>): WebSessionRecord {
  return {
    key: String(r.key),
    csrfToken: String(r.csrf_token),
    kind: r.kind === 'telegram' ? 'telegram' : 'token',
    subject: String(r.subject),
    createdAt: Number(r.created_at),
    lastSeenAt: Number(r.last_seen_at),
  };
}

/** An approval_decisions row as read; `request` is the request as JSON, its time in epoch ms. */
export interface DecisionRow {
  machine_id: string;
  session_id: string;
  request: string;
  decision: string;
  message: string;
  token_id: string;
  decided_by: string;
  origin: string;
  decided_at: number;
}

export function decisionFromRow(r: DecisionRow): ApprovalDecisionRecordInfo {
  const request = JSON.parse(r.request) as ApprovalRequestInfo & { requestedAt: number };
  return {
    machineId: r.machine_id,
    sessionId: r.session_id,
    request: { ...request, requestedAt: new Date(request.requestedAt) },
    decision: r.decision as ApprovalDecisionRecordInfo['decision'],
    message: r.message,
    tokenId: r.token_id,
    decidedBy: r.decided_by,
    origin: r.origin as ApprovalDecisionRecordInfo['origin'],
    decidedAt: new Date(r.decided_at),
  };
}

/** The row to insert for a decision (both adapters bind from it). */
export function decisionToRow(d: ApprovalDecisionRecordInfo & { namespace: string }) {
  return {
    namespace: d.namespace,
    machine_id: d.machineId,
    session_id: d.sessionId,
    request_id: d.request.id,
    request: JSON.stringify({ ...d.request, requestedAt: d.request.requestedAt.getTime() }),
    decision: d.decision,
    message: d.message,
    token_id: d.tokenId,
    decided_by: d.decidedBy,
    origin: d.origin,
    decided_at: d.decidedAt.getTime(),
  };
}
