/**
 * What sessions tell the runner: "started" (which completes a spawn, or registers a terminal
 * session) and "ended". A PID is only accepted after checking that it is that session of this
 * HAPI_HOME (session-process.ts), since stop-session will signal it later.
 */
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, UnavailableError } from '../../shared/errors.js';
import type { SessionEnd, SessionInfo, SessionReport } from '../../contract/types.js';
import { DEFAULT_AGENT } from './agents.js';
import { isSelfOrDescendant, leadsOwnGroup, terminateProcess } from './process-tree.js';
import { verifyReportedProcess } from './session-process.js';
import { emit, markEnded, track, treeOf, type SessionState } from './session-state.js';

/** A session reported itself; returns it as now tracked. InvalidArgumentError on bad input. */
export function reportStarted(state: SessionState, report: SessionReport): SessionInfo {
  const { registry, log } = state;
  if (state.closing) throw new UnavailableError('the runner is shutting down');
  const id = typeof report.sessionId === 'string' ? report.sessionId.trim() : '';
  if (id === '') throw new InvalidArgumentError('sessionId is required');
  if (!Number.isInteger(report.hostPid) || report.hostPid <= 0) {
    throw new InvalidArgumentError(`hostPid must be a positive integer, got ${String(report.hostPid)}`);
  }
  if (report.startedBy !== 'runner' && report.startedBy !== 'terminal') {
    throw new InvalidArgumentError(`startedBy must be 'runner' or 'terminal', got ${String(report.startedBy)}`);
  }
  const pid = report.hostPid;

  const waiting = state.pending.get(id);
  if (waiting) {
    if (!waiting.launched) throw new UnavailableError(`session ${id} is still being spawned; retry`);
    if (pid !== waiting.launched.pid && !isSelfOrDescendant(pid, waiting.launched.pid)) {
      throw new InvalidArgumentError(`session ${id} reported PID ${pid}, but the runner spawned PID ${waiting.launched.pid}`);
    }
    const session = registry.get(id);
    if (!session) throw new FailedPreconditionError(`session ${id} was stopped before it reported`);
    const running: SessionInfo = { ...session, state: 'running' };
    try {
      registry.put(running);
    } catch (err) {
      // Not recorded (disk full): the spawn fails with the same error and kills the process.
      waiting.reject(err as Error);
      throw err;
    }
    state.pending.delete(id);
    log.info({ sessionId: id, sessionPid: pid, startedBy: report.startedBy }, 'Session reported');
    emit(state, 'started', running);
    waiting.resolve(running);
    return { ...running };
  }

  const known = registry.get(id);
  if (known) {
    if (known.pid === pid || isSelfOrDescendant(pid, known.pid)) {
      log.info({ sessionId: id, sessionPid: pid, startedBy: known.startedBy }, 'Session reported');
      return { ...known };
    }
    throw new AlreadyExistsError(`session id ${id} is already in use by PID ${known.pid}`, { sessionId: id });
  }

  if (report.startedBy === 'runner') {
    // Claims to be runner-spawned, but this runner is not waiting for it: its spawn timed
    // out, was stopped, or belonged to a runner that died before it reported. Nobody will
    // ever stop it otherwise.
    // Only a process that is that session of this HAPI_HOME is ever signalled.
    const startTime = verifyReportedProcess({ pid, sessionId: id, startedBy: 'runner', hapiHome: state.paths.home });
    log.warn({ sessionId: id, sessionPid: pid }, 'orphan session report: not spawned by this runner; stopping it');
    track(state, terminateProcess({ pid, startTime, group: leadsOwnGroup(pid), ...treeOf(state, id) }));
    throw new FailedPreconditionError(`session ${id} was not spawned by this runner (its spawn is over); it is being stopped`, {
      sessionId: id,
    });
  }

  if (state.recentEnded.has(id)) throw new AlreadyExistsError(`session id ${id} was already used`, { sessionId: id });
  // stop-session will signal this PID: it must be that session of this HAPI_HOME.
  const startTime = verifyReportedProcess({ pid, sessionId: id, startedBy: 'terminal', hapiHome: state.paths.home });
  const session: SessionInfo = {
    id,
    pid,
    processStartTime: startTime,
    startedBy: 'terminal',
    directory: report.directory ?? '',
    agent: report.agent?.trim() || DEFAULT_AGENT,
    startedAt: report.startedAt instanceof Date && !Number.isNaN(report.startedAt.getTime()) ? report.startedAt : new Date(),
    state: 'running',
  };
  registry.put(session);
  log.info({ sessionId: id, sessionPid: pid, startedBy: 'terminal' }, 'Session reported');
  emit(state, 'started', session);
  return { ...session };
}

/** A session says its agent exited. Unknown ids are ignored. */
export function reportEnded(state: SessionState, end: SessionEnd): void {
  if (typeof end.sessionId !== 'string' || end.sessionId === '') return;
  // A spawn still waiting for its report is failed by its exit, not by this message.
  if (state.pending.has(end.sessionId)) return;
  markEnded(state, end.sessionId, { exitCode: end.exitCode, exitSignal: end.exitSignal || undefined });
}
