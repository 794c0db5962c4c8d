import { useState } from 'preact/hooks';
import { ApiError, stopRunner } from '../api.js';
import { ago, compareSessions, isActive, localTime, machineName, runnerStatusLabel } from '../format.js';
import type { Machine, Session } from '../types.js';
import { SessionRow } from './session-row.js';

const ENDED_SHOWN = 5;

/**
 * One machine: what it is, whether it is online and since when, its runner, and its sessions.
 * `readOnly`: the sign-in cannot stop anything, so no stop buttons are shown.
 */
export function MachineCard(props: { machine: Machine; sessions: Session[]; now: number; readOnly?: boolean }) {
  const { machine: m, now } = props;
  const name = machineName(m);
  const meta = m.metadata ?? {};
  const online = Boolean(m.online);
  const sorted = [...props.sessions].sort(compareSessions);
  const active = sorted.filter(isActive);
  const ended = sorted.filter((s) => !isActive(s));
  const [showAllEnded, setShowAllEnded] = useState(false);
  const shownEnded = showAllEnded ? ended : ended.slice(0, ENDED_SHOWN);

  return (
    <section class="card machine" data-machine-id={m.id} data-online={online ? 'true' : 'false'} aria-label={`machine ${name}`}>
      <header class="machine-head">
        <h2>{name}</h2>
        <span class={`pill ${online ? 'online' : 'offline'}`}>{online ? 'online' : 'offline'}</span>
      </header>
      <dl class="facts">
        {meta.hostname && meta.hostname !== name && (
          <>
            <dt>Host</dt>
            <dd>{meta.hostname}</dd>
          </>
        )}
        <dt>Platform</dt>
        <dd>{[meta.platform, meta.arch].filter(Boolean).join(' / ') || 'unknown'}</dd>
        <dt>CLI</dt>
        <dd>{meta.cliVersion || 'unknown'}</dd>
        <dt>{online ? 'Online since' : 'Offline since'}</dt>
        <dd class="since" title={localTime(m.onlineSince)}>
          {ago(m.onlineSince, now) || 'unknown'}
        </dd>
        <dt>Runner</dt>
        <dd class="runner-state">
          {online || m.runnerState?.status === 'RUNNER_STATUS_LOST'
            ? runnerStatusLabel(m.runnerState, now)
            : `not connected (last known: ${runnerStatusLabel(m.runnerState, now)})`}
          {m.runnerState?.pid ? `, ${m.runnerState.status === 'RUNNER_STATUS_LOST' ? 'last pid' : 'pid'} ${m.runnerState.pid}` : ''}
        </dd>
        {!online && m.lastAlive && (
          <>
            <dt>Last seen</dt>
            <dd title={localTime(m.lastAlive)}>{ago(m.lastAlive, now)}</dd>
          </>
        )}
      </dl>
      {m.runnerState?.lastSpawnError && (
        <p class="error spawn-error">
          <strong>Last spawn error:</strong> {m.runnerState.lastSpawnError}
        </p>
      )}

      <h3>
        Sessions <span class="muted">({active.length} active)</span>
      </h3>
      {sorted.length === 0 ? (
        <p class="muted">No sessions.</p>
      ) : (
        <ul class="sessions">
          {[...active, ...shownEnded].map((s) => (
            <SessionRow key={s.id} session={s} machineId={m.id} machineOnline={online} now={now} readOnly={props.readOnly} />
          ))}
        </ul>
      )}
      {ended.length > ENDED_SHOWN && (
        <button type="button" class="link" onClick={() => setShowAllEnded(!showAllEnded)}>
          {showAllEnded ? 'Show fewer ended sessions' : `Show all ${ended.length} ended sessions`}
        </button>
      )}
      {online && !props.readOnly && <StopRunner machine={m} name={name} />}
    </section>
  );
}

/** Stopping a runner needs a second, explicit click. Its sessions keep running. */
function StopRunner(props: { machine: Machine; name: string }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');

  const stop = async () => {
    setBusy(true);
    setError('');
    try {
      await stopRunner(props.machine.id);
      setMessage('The runner is stopping.');
      setConfirming(false);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="stop-runner">
      {!confirming ? (
        <button type="button" class="danger-outline" onClick={() => setConfirming(true)}>
          Stop runner
        </button>
      ) : (
        <div class="confirm" role="alertdialog" aria-label="Confirm stopping the runner">
          <p>
            Stop the runner on <strong>{props.name}</strong>? Its sessions keep running, but no new ones can be started
            there until the runner is started again on that machine.
          </p>
          <div class="actions">
            <button type="button" class="danger" onClick={stop} disabled={busy}>
              {busy ? 'Stopping…' : 'Yes, stop the runner'}
            </button>
            <button type="button" onClick={() => setConfirming(false)} disabled={busy}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
