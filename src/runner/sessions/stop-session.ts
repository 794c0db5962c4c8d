/**
 * Stopping a session by id or PID: its whole process tree, SIGTERM then SIGKILL after the
 * grace. Concurrent stops of one session share one attempt; a session that ended recently is
 * "already gone" rather than unknown.
 */
import { InternalError, InvalidArgumentError, NotFoundError } from '../../shared/errors.js';
import { isSameProcess } from '../../shared/proc.js';
import type { SessionInfo, StopResult, StopTarget } from '../../contract/types.js';
import { leadsOwnGroup, terminateProcess } from './process-tree.js';
import { markEnded, treeOf, type SessionState } from './session-state.js';

export function stopSession(state: SessionState, target: StopTarget): Promise<StopResult> {
  let session: SessionInfo | undefined;
  let label: string;
  if ('sessionId' in target) {
    if (typeof target.sessionId !== 'string' || target.sessionId.trim() === '') {
      return Promise.reject(new InvalidArgumentError('session id is required'));
    }
    label = `id ${target.sessionId}`;
    session = state.registry.get(target.sessionId);
    if (!session) {
      const ended = state.recentEnded.get(target.sessionId);
      if (ended) return Promise.resolve({ result: 'already-gone', sessionId: ended.id });
    }
  } else {
    if (!Number.isInteger(target.pid) || target.pid <= 0) {
      return Promise.reject(new InvalidArgumentError(`PID must be a positive integer, got ${String(target.pid)}`));
    }
    label = `PID ${target.pid}`;
    session = state.registry.findByPid(target.pid);
    if (!session) {
      let ended: SessionInfo | undefined;
      for (const s of state.recentEnded.values()) if (s.pid === target.pid) ended = s;
      if (ended) return Promise.resolve({ result: 'already-gone', sessionId: ended.id });
    }
  }
  if (!session) return Promise.reject(new NotFoundError(`no session with ${label}`));
  const existing = state.stopping.get(session.id);
  if (existing) return existing;
  const found = session;
  const p = (async (): Promise<StopResult> => {
    const group = isSameProcess(found.pid, found.processStartTime) ? stopGroupOf(found) : found.startedBy === 'runner';
    state.log.info({ sessionId: found.id, sessionPid: found.pid, group }, 'stopping session');
    const r = await terminateProcess({ pid: found.pid, startTime: found.processStartTime, group, ...treeOf(state, found.id) });
    if (r === 'still-alive') throw new InternalError(`session ${found.id} (PID ${found.pid}) is still alive after SIGKILL`);
    // The exit watcher may already have recorded the exact exit status.
    markEnded(state, found.id, r === 'stopped' ? { exitSignal: 'SIGTERM' } : {});
    return { result: r, sessionId: found.id };
  })().finally(() => state.stopping.delete(found.id));
  state.stopping.set(found.id, p);
  return p;
}

function stopGroupOf(session: SessionInfo): boolean {
  // Runner-spawned sessions lead their group by construction; terminal ones only sometimes.
  return session.startedBy === 'runner' || leadsOwnGroup(session.pid);
}
