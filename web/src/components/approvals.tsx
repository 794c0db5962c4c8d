import { useEffect, useState } from 'preact/hooks';
import { ApiError, decideApproval, listDecisions } from '../api.js';
import { ago, localTime } from '../format.js';
import type { AgentActivity, ApprovalRequest, DecisionRecord, Session } from '../types.js';

/** The badge's word for an activity, and its css class: working, waiting, needs you, exited. */
export function activityBadge(a: AgentActivity | null | undefined): { label: string; cls: string } | undefined {
  switch (a?.state) {
    case 'ACTIVITY_STATE_WORKING':
      return { label: a.guess ? 'working?' : 'working', cls: 'working' };
    case 'ACTIVITY_STATE_WAITING_FOR_INPUT':
      return { label: a.guess ? 'waiting?' : 'waiting', cls: 'waiting' };
    case 'ACTIVITY_STATE_NEEDS_APPROVAL':
      return { label: 'needs you', cls: 'needs-approval' };
    case 'ACTIVITY_STATE_EXITED':
      return { label: 'exited', cls: 'exited' };
    default:
      return undefined;
  }
}

/** A session asks for someone: an approval request, or (from its hooks) the end of its turn. */
export function needsYou(s: Session): boolean {
  return s.activity?.state === 'ACTIVITY_STATE_NEEDS_APPROVAL';
}

export function ActivityBadge(props: { activity: AgentActivity | null | undefined }) {
  const b = activityBadge(props.activity);
  if (!b) return null;
  const title = props.activity?.guess ? 'a guess from the terminal (the agent has no hooks)' : props.activity?.message || undefined;
  return (
    <span class={`pill activity activity-${b.cls}`} data-activity={b.cls} title={title}>
      {b.label}
    </span>
  );
}

function what(r: ApprovalRequest): string {
  return r.command || r.file || r.description || '';
}

/**
 * The pending requests of a session with Approve / Deny (and "Allow for the session" where the
 * agent offers it). Every button names its request's id; once answered anywhere the request goes
 * with the session's next event. A request left to the terminal is shown, to answer there.
 */
export function ApprovalPanel(props: { session: Session; machineId: string; readOnly?: boolean }) {
  const requests = props.session.activity?.requests ?? [];
  const [busy, setBusy] = useState('');
  const [error, setError] = useState('');
  if (requests.length === 0 && !props.session.activity?.message) return null;

  const decide = async (r: ApprovalRequest, decision: 'allow' | 'deny' | 'allow_session') => {
    setBusy(r.id);
    setError('');
    try {
      await decideApproval(props.machineId, props.session.id, r.id, decision);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy('');
    }
  };

  return (
    <div class="approvals" onClick={(e) => e.stopPropagation()}>
      {props.session.activity?.message && requests.length === 0 && <p class="muted small agent-message">{props.session.activity.message}</p>}
      {requests.map((r) => (
        <div class="approval" key={r.id} data-request-id={r.id}>
          <div class="approval-what">
            <strong>{r.tool}</strong> <code>{what(r)}</code>
          </div>
          {r.atTerminal ? (
            <p class="muted small">Waiting for an answer in the terminal.</p>
          ) : (
            !props.readOnly && (
              <div class="actions">
                <button type="button" class="approve" disabled={busy === r.id} onClick={() => decide(r, 'allow')} aria-label={`Approve ${r.tool} ${what(r)}`}>
                  Approve
                </button>
                {r.choices?.includes('APPROVAL_DECISION_ALLOW_SESSION') && (
                  <button type="button" disabled={busy === r.id} onClick={() => decide(r, 'allow_session')}>
                    Allow for the session
                  </button>
                )}
                <button type="button" class="deny" disabled={busy === r.id} onClick={() => decide(r, 'deny')} aria-label={`Deny ${r.tool} ${what(r)}`}>
                  Deny
                </button>
              </div>
            )
          )}
        </div>
      ))}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

const DECIDED: Record<DecisionRecord['decision'], string> = { allow: 'approved', allow_session: 'approved for the session', deny: 'denied' };
/** Where it was decided, as a phrase ("by alice from Telegram"). */
const ORIGIN: Record<DecisionRecord['origin'], string> = { page: 'the page', cli: 'the CLI', api: 'the API', telegram: 'Telegram', push: 'a notification' };

/** The session's recorded decisions (who, from where, when, what), loaded when opened. */
export function DecisionHistory(props: { machineId: string; sessionId: string; now: number; refresh?: unknown }) {
  const [records, setRecords] = useState<DecisionRecord[] | undefined>();
  useEffect(() => {
    listDecisions(props.machineId, props.sessionId).then(setRecords, () => setRecords([]));
  }, [props.machineId, props.sessionId, props.refresh]);
  if (!records || records.length === 0) return null;
  return (
    <details class="decision-history">
      <summary>Decisions ({records.length})</summary>
      <ul>
        {records.map((d) => (
          <li key={`${d.request.id}-${d.decidedAt}`} title={localTime(d.decidedAt)}>
            {DECIDED[d.decision]} <strong>{d.request.tool}</strong> <code>{d.request.command || d.request.file}</code> by {d.decidedBy} from {ORIGIN[d.origin] ?? d.origin},{' '}
            {ago(d.decidedAt, props.now)}
            {d.message && <> ("{d.message}")</>}
          </li>
        ))}
      </ul>
    </details>
  );
}
