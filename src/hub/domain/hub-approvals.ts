/**
 * Decisions on agents' approval requests (issue 13, "Decide from anywhere"): the hub checks the
 * caller (scope `decide`, its namespace's session), relays the decision to the runner (which
 * passes it to the session, which hands it to the waiting hook), records it (who, from where,
 * when, what) and clears the request from every view at once. A request that is no longer
 * pending is refused by the session itself (FAILED_PRECONDITION, passed on unchanged): only
 * the session knows, and it never applies a decision to another request.
 */
import { InvalidArgumentError, NotFoundError } from '../../shared/errors.js';
import { checkSessionId } from '../../contract/limits.js';
import type { ApprovalDecisionRecordInfo, DecisionOriginName } from '../../contract/activity-types.js';
import type { ApprovalDecisionCall, RelayCall, RelayResult } from '../../contract/types.js';
import type { ActivityBook } from './session-activity.js';
import type { ApprovalDecisionStore, SessionStore, TokenStore } from './ports.js';
import { requireScope } from './scopes.js';
import type { Caller } from './types.js';
import type { Logger } from 'pino';

export interface HubApprovals {
  decide(caller: Caller, machineId: string, sessionId: string, call: ApprovalDecisionCall, origin: DecisionOriginName, signal?: AbortSignal): Promise<ApprovalDecisionRecordInfo>;
  list(caller: Caller, machineId: string, sessionId: string): Promise<ApprovalDecisionRecordInfo[]>;
}

export interface HubApprovalsOptions {
  store: ApprovalDecisionStore & Pick<SessionStore, 'getSession'> & Pick<TokenStore, 'getToken'>;
  activity: ActivityBook;
  /** The hub's relay (checks the machine is the caller's, and online). */
  relay(caller: Caller, machineId: string, call: RelayCall, signal?: AbortSignal): Promise<RelayResult>;
  now: () => Date;
  log: Pick<Logger, 'error'>;
}

export function createHubApprovals(o: HubApprovalsOptions): HubApprovals {
  /** The caller's namespace's session; another namespace's is indistinguishable from a missing one. */
  async function sessionOf(caller: Caller, machineId: string, sessionId: string) {
    if (!machineId) throw new InvalidArgumentError('machine id is required');
    if (!sessionId) throw new InvalidArgumentError('session id is required');
    checkSessionId(sessionId);
    const s = await o.store.getSession(machineId, sessionId);
    if (!s || s.namespace !== caller.namespace) throw new NotFoundError(`session ${sessionId} not found on machine ${machineId}`);
    return s;
  }

  return {
    async decide(caller, machineId, sessionId, call, origin, signal) {
      requireScope(caller, 'decide');
      await sessionOf(caller, machineId, sessionId);
      if (!call.requestId) throw new InvalidArgumentError('request id is required');
      // Read before the relay: once the agent has the decision, only the record's insert may fail (logged).
      const label = (await o.store.getToken(caller.tokenId))?.label;
      const r = await o.relay(caller, machineId, { method: 'decide-approval', sessionId, decision: call }, signal);
      if (r.method !== 'decide-approval') throw new InvalidArgumentError('unexpected relay result');
      const record: ApprovalDecisionRecordInfo = {
        machineId,
        sessionId,
        request: r.request,
        decision: call.decision,
        message: call.message,
        tokenId: caller.tokenId,
        decidedBy: label || (caller.owner ? 'owner' : caller.tokenId),
        origin,
        decidedAt: o.now(),
      };
      // The agent has it already: a store that refuses the record (busy, full) must not turn an
      // applied decision into a failed call (the caller would decide again, on nothing): logged.
      try {
        await o.store.insertDecision({ ...record, namespace: caller.namespace });
      } catch (err) {
        o.log.error({ err, machineId, sessionId, requestId: call.requestId, decision: call.decision }, 'an applied approval decision could not be recorded');
      }
      await o.activity.settled(caller.namespace, machineId, sessionId, call.requestId);
      return record;
    },
    async list(caller, machineId, sessionId) {
      requireScope(caller, 'list');
      await sessionOf(caller, machineId, sessionId);
      return o.store.listDecisions(machineId, sessionId);
    },
  };
}
