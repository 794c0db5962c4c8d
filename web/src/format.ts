/** How the page words and rounds what the hub reports. Pure functions. */
import type { Machine, RunnerState, Session } from './types.js';

export function machineName(m: Machine): string {
  return m.metadata?.displayName || m.metadata?.hostname || m.id;
}

export function runnerStatusLabel(state: RunnerState | null | undefined, now = Date.now()): string {
  switch (state?.status) {
    case 'RUNNER_STATUS_RUNNING':
      return 'running';
    case 'RUNNER_STATUS_LOST': {
      const since = ago(state.lostAt, now);
      return `lost${since ? ` ${since}` : ''} (its link ended without a shutdown message; it may have crashed)`;
    }
    case 'RUNNER_STATUS_SHUTTING_DOWN':
      return state.shutdownReason ? `shutting down (${state.shutdownReason})` : 'shutting down';
    default:
      return 'unknown';
  }
}

export function startedByLabel(s: Session): string {
  switch (s.startedBy) {
    case 'STARTED_BY_RUNNER':
      return 'runner';
    case 'STARTED_BY_TERMINAL':
      return 'terminal';
    default:
      return 'unknown';
  }
}

export type StateName = 'starting' | 'running' | 'ended' | 'unknown';

export function sessionStateName(s: Session): StateName {
  switch (s.state) {
    case 'SESSION_STATE_STARTING':
      return 'starting';
    case 'SESSION_STATE_RUNNING':
      return 'running';
    case 'SESSION_STATE_ENDED':
      return 'ended';
    default:
      return 'unknown';
  }
}

export function isActive(s: Session): boolean {
  const state = sessionStateName(s);
  return state === 'starting' || state === 'running';
}

/** How a session ended: "exit 0", "SIGTERM", or "" while unknown. */
export function exitLabel(s: Session): string {
  if (s.exitSignal) return s.exitSignal;
  if (typeof s.exitCode === 'number') return `exit ${s.exitCode}`;
  return '';
}

function parseTime(iso: string | null | undefined): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/** A duration in the largest sensible units: "42 s", "5 min", "3 h 12 min", "2 d 4 h". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "5 min ago" (or "" when the time is unknown). */
export function ago(iso: string | null | undefined, now: number): string {
  const t = parseTime(iso);
  return t === undefined ? '' : `${duration(now - t)} ago`;
}

/** Age of a session: running time, or how long it ran once ended. */
export function sessionAge(s: Session, now: number): string {
  const start = parseTime(s.startedAt);
  if (start === undefined) return '';
  const end = sessionStateName(s) === 'ended' ? parseTime(s.endedAt) ?? now : now;
  return duration(end - start);
}

/** Local date and time, for tooltips. */
export function localTime(iso: string | null | undefined): string {
  const t = parseTime(iso);
  return t === undefined ? '' : new Date(t).toLocaleString();
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** Machines online first, then by name. */
export function compareMachines(a: Machine, b: Machine): number {
  if (Boolean(a.online) !== Boolean(b.online)) return a.online ? -1 : 1;
  return machineName(a).localeCompare(machineName(b));
}

/** Active sessions first, then newest first. */
export function compareSessions(a: Session, b: Session): number {
  if (isActive(a) !== isActive(b)) return isActive(a) ? -1 : 1;
  return (parseTime(b.startedAt) ?? 0) - (parseTime(a.startedAt) ?? 0);
}
