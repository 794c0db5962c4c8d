/** The work of `hapi approve` (approve.ts): pick the request, send the decision, say what was decided. */
import { activityFromProto, approvalRequestFromProto, approvalRequestJson, decisionToProto } from '../../contract/activity.js';
import type { AgentActivityInfo, ApprovalDecisionName, ApprovalRequestInfo } from '../../contract/activity-types.js';
import { ProtoDecisionOrigin } from '../../contract/hub.js';
import { clientConfig } from '../../shared/config.js';
import { FailedPreconditionError, InvalidArgumentError } from '../../shared/errors.js';
import { resolveHubCredentials, withHub } from '../../shared/hub-client.js';
import { hapiPaths } from '../../shared/paths.js';
import { requestLabel } from './activity-label.js';
import type { ApproveOptions } from './approve.js';

/** The request to answer: the one named, or the only one pending (FailedPrecondition otherwise). */
export function pickRequest(sessionId: string, activity: AgentActivityInfo | undefined, requestId: string | undefined): string {
  if (requestId) return requestId;
  const open = (activity?.requests ?? []).filter((r) => !r.atTerminal);
  if (open.length === 1) return open[0]!.id;
  if (open.length === 0) throw new FailedPreconditionError(`session ${sessionId} has no approval request pending`);
  const list = open.map((r) => `  ${r.id}  ${requestLabel(r)}`).join('\n');
  throw new FailedPreconditionError(`session ${sessionId} has ${open.length} approval requests pending; name one:\n${list}`);
}

function decisionOf(opts: ApproveOptions): Exclude<ApprovalDecisionName, 'none'> {
  if (opts.deny && opts.allowSession) throw new InvalidArgumentError('--deny and --allow-session exclude each other');
  if (opts.message !== undefined && !opts.deny) throw new InvalidArgumentError('--message goes with --deny');
  return opts.deny ? 'deny' : opts.allowSession ? 'allow_session' : 'allow';
}

const VERB: Record<Exclude<ApprovalDecisionName, 'none'>, string> = { allow: 'approved', allow_session: 'approved for the session', deny: 'denied' };

export async function approve(session: string, requestId: string | undefined, opts: ApproveOptions): Promise<void> {
  const decision = decisionOf(opts);
  const message = opts.message ?? '';
  let sessionId = session;
  let request: ApprovalRequestInfo;
  if (opts.machine !== undefined) {
    const { resolveMachine, resolveSessionId } = await import('./hub-remote.js');
    const timeout = () => AbortSignal.timeout(clientConfig().httpTimeoutMs);
    request = await withHub(resolveHubCredentials(hapiPaths()), async (c) => {
      const machine = await resolveMachine(c.hub, opts.machine!);
      sessionId = await resolveSessionId(c.hub, machine.id, session);
      let id = requestId;
      if (!id) {
        const { sessions } = await c.hub.listSessions({ machineId: machine.id, includeEnded: false }, { signal: timeout() });
        id = pickRequest(sessionId, activityFromProto(sessions.find((s) => s.id === sessionId)?.activity), undefined);
      }
      const r = await c.hub.decideApproval(
        { machineId: machine.id, sessionId, requestId: id, decision: decisionToProto(decision), message, origin: ProtoDecisionOrigin.DECISION_ORIGIN_CLI },
        { signal: timeout() },
      );
      if (!r.record?.request) throw new FailedPreconditionError('the hub answered without the request');
      return approvalRequestFromProto(r.record.request);
    });
  } else {
    const { callSession } = await import('../../session/session-client.js');
    let id = requestId;
    if (!id) id = pickRequest(session, activityFromProto((await callSession(session, (c, signal) => c.getInfo({}, { signal }))).activity), undefined);
    const r = await callSession(session, (c, signal) => c.decideApproval({ requestId: id, decision: decisionToProto(decision), message }, { signal }));
    if (!r.request) throw new FailedPreconditionError('the session answered without the request');
    request = approvalRequestFromProto(r.request);
  }
  if (opts.json) {
    // The CLI's --json words: lower case with dashes (allow-session), as every --json output.
    const word = (d: string) => d.replace(/_/g, '-');
    const json = { ...approvalRequestJson(request), choices: request.choices.map(word) };
    process.stdout.write(`${JSON.stringify({ sessionId, decision: word(decision), message, request: json })}\n`);
    return;
  }
  process.stdout.write(`${VERB[decision]} ${request.id} (${requestLabel(request)}) in session ${sessionId}\n`);
}
