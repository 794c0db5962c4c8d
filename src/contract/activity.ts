/**
 * Converters between AgentActivity, ApprovalRequest and ApprovalDecision (proto/hapi/common/v1)
 * and the plain types of activity-types.ts. Decoding validates: an unknown state or decision is
 * InvalidArgumentError (the enum rule of common.ts).
 */
import {
  ActivityState,
  ApprovalDecision,
  activityStateToJSON,
  approvalDecisionToJSON,
  type AgentActivity,
  type ApprovalRequest,
} from '../../gen/hapi/common/v1/common.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { clipActivityText, type ActivityStateName, type AgentActivityInfo, type ApprovalDecisionName, type ApprovalRequestInfo } from './activity-types.js';
import { enumConverters } from './common.js';
import type { ApprovalDecisionCall } from './types.js';

export { ActivityState as ProtoActivityState, ApprovalDecision as ProtoApprovalDecision } from '../../gen/hapi/common/v1/common.js';

const activityState = /* @__PURE__ */ enumConverters<ActivityStateName, ActivityState>('activity state', {
  working: ActivityState.ACTIVITY_STATE_WORKING,
  waiting_for_input: ActivityState.ACTIVITY_STATE_WAITING_FOR_INPUT,
  needs_approval: ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL,
  exited: ActivityState.ACTIVITY_STATE_EXITED,
}, activityStateToJSON);
export const activityStateToProto = activityState.toProto;
export const activityStateFromProto = activityState.fromProto;

const decision = /* @__PURE__ */ enumConverters<ApprovalDecisionName, ApprovalDecision>('approval decision', {
  allow: ApprovalDecision.APPROVAL_DECISION_ALLOW,
  deny: ApprovalDecision.APPROVAL_DECISION_DENY,
  allow_session: ApprovalDecision.APPROVAL_DECISION_ALLOW_SESSION,
  none: ApprovalDecision.APPROVAL_DECISION_NONE,
}, approvalDecisionToJSON);
export const decisionToProto = decision.toProto;
export const decisionFromProto = decision.fromProto;

/** A decision a client sent: allow, deny or allow_session (INVALID_ARGUMENT otherwise). */
export function clientDecisionFromProto(d: ApprovalDecision): Exclude<ApprovalDecisionName, 'none'> {
  const name = decision.fromProto(d);
  if (name === 'none') throw new InvalidArgumentError('the decision must be ALLOW, DENY or ALLOW_SESSION');
  return name;
}

/** A DecideApprovalRequest (hapi.session.v1) as the runner and the hub pass it on; INVALID_ARGUMENT when malformed. */
export function approvalDecisionCallFromProto(d: { requestId: string; decision: ApprovalDecision; message: string } | undefined): ApprovalDecisionCall {
  if (!d || !d.requestId) throw new InvalidArgumentError('the decision needs a request id');
  return { requestId: d.requestId, decision: clientDecisionFromProto(d.decision), message: clipActivityText(d.message) };
}

/** Domain -> proto of a decision call. */
export function approvalDecisionCallToProto(d: ApprovalDecisionCall): { requestId: string; decision: ApprovalDecision; message: string } {
  return { requestId: d.requestId, decision: decisionToProto(d.decision), message: d.message };
}

export function approvalRequestToProto(r: ApprovalRequestInfo): ApprovalRequest {
  return {
    id: r.id,
    tool: r.tool,
    command: r.command,
    file: r.file,
    choices: r.choices.map(decisionToProto),
    requestedAt: r.requestedAt,
    description: r.description,
    atTerminal: r.atTerminal,
  };
}

export function approvalRequestFromProto(r: ApprovalRequest): ApprovalRequestInfo {
  return {
    id: r.id,
    tool: r.tool,
    command: clipActivityText(r.command),
    file: clipActivityText(r.file),
    description: clipActivityText(r.description),
    choices: r.choices.map(decisionFromProto),
    requestedAt: r.requestedAt ?? new Date(0),
    atTerminal: r.atTerminal,
  };
}

export function activityToProto(a: AgentActivityInfo): AgentActivity {
  return {
    state: activityStateToProto(a.state),
    guess: a.guess,
    message: a.message,
    requests: a.requests.map(approvalRequestToProto),
    since: a.since,
    source: a.source,
  };
}

/** Unset (or UNSPECIFIED) is undefined: the sender does not know. */
export function activityFromProto(a: AgentActivity | undefined): AgentActivityInfo | undefined {
  if (!a || a.state === ActivityState.ACTIVITY_STATE_UNSPECIFIED) return undefined;
  return {
    state: activityStateFromProto(a.state),
    guess: a.guess,
    message: clipActivityText(a.message),
    requests: a.requests.map(approvalRequestFromProto),
    since: a.since ?? new Date(0),
    source: a.source,
  };
}

/** The JSON shape of an activity (REST view, `hapi ... --json`). */
export function activityJson(a: AgentActivityInfo): Record<string, unknown> {
  return {
    state: a.state,
    guess: a.guess,
    message: a.message,
    source: a.source,
    since: a.since.toISOString(),
    requests: a.requests.map(approvalRequestJson),
  };
}

export function approvalRequestJson(r: ApprovalRequestInfo): Record<string, unknown> {
  return {
    id: r.id,
    tool: r.tool,
    command: r.command,
    file: r.file,
    description: r.description,
    choices: r.choices,
    requestedAt: r.requestedAt.toISOString(),
    atTerminal: r.atTerminal,
  };
}
