import { useState } from 'preact/hooks';
import { ApiError, stopSession } from '../api.js';
import { ago, exitLabel, isActive, localTime, sessionAge, sessionStateName, shortId, startedByLabel } from '../format.js';
import { openTerminal, terminalHref } from '../route.js';
import type { Session } from '../types.js';
import { MuteButton } from '../notifications.js';
import { ActivityBadge, ApprovalPanel } from './approvals.js';

/**
 * One session: state, id, agent, who started it, age, directory, and what its terminal last
 * showed and when; tapping it opens its terminal. A Stop button while it runs (unless `readOnly`).
 */
export function SessionRow(props: { session: Session; machineId: string; machineOnline: boolean; now: number; readOnly?: boolean }) {
  const { session: s, now } = props;
  const [stopping, setStopping] = useState(false);
  const [error, setError] = useState('');
  const state = sessionStateName(s);
  const active = isActive(s);

  const stop = async () => {
    setStopping(true);
    setError('');
    try {
      await stopSession(props.machineId, s.id);
      // The session's end arrives through the event stream.
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
      setStopping(false);
    }
  };

  return (
    <li class={`session state-${state}`} data-session-id={s.id} data-state={state}>
      <a
        class="session-open"
        href={terminalHref(props.machineId, s.id)}
        aria-label={`Open the terminal of session ${shortId(s.id)}`}
        onClick={(e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey) return;
          e.preventDefault();
          openTerminal(props.machineId, s.id);
        }}
      >
      <div class="session-head">
        <span class={`pill state-${state}`}>{state}</span>
        {active && <ActivityBadge activity={s.activity} />}
        <code class="session-id" title={s.id}>
          {shortId(s.id)}
        </code>
        <span class="agent">{s.agent || 'default agent'}</span>
        <span class="muted">by {startedByLabel(s)}</span>
        <span class="muted" title={localTime(s.startedAt)}>
          {state === 'ended' ? `ran ${sessionAge(s, now)}` : sessionAge(s, now)}
        </span>
        {state === 'ended' && exitLabel(s) && <span class="muted">{exitLabel(s)}</span>}
      </div>
      <div class="session-dir" title={s.directory}>
        {s.directory}
      </div>
      {s.worktree?.branch && (
        <div class="muted small">
          worktree on branch <code>{s.worktree.branch}</code>
          {s.worktree.repository && <> of {s.worktree.repository}</>}
        </div>
      )}
      {(s.lastLine || s.lastOutputAt) && (
        <div class="session-activity">
          <code class="last-line">{s.lastLine || ' '}</code>
          {s.lastOutputAt && (
            <span class="muted small last-output" title={localTime(s.lastOutputAt)}>
              output {ago(s.lastOutputAt, now)}
            </span>
          )}
        </div>
      )}
      </a>
      {active && <ApprovalPanel session={s} machineId={props.machineId} readOnly={props.readOnly} />}
      {active && !props.readOnly && (
        <div class="actions">
          <MuteButton machineId={props.machineId} sessionId={s.id} />
          <button type="button" onClick={stop} disabled={stopping || !props.machineOnline} aria-label={`Stop session ${shortId(s.id)}`}>
            {stopping ? 'Stopping…' : 'Stop'}
          </button>
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
