/**
 * Reconciling the registry with the processes that really run: re-adoption when a runner
 * starts (after a crash, a stop/start or a hand-off), and pruning of dead sessions on the
 * heartbeat. A PID is only trusted together with its process start time (PID reuse).
 */
import { isSameProcess } from '../../shared/proc.js';
import type { SessionInfo } from '../../contract/types.js';
import { terminateProcess } from './process-tree.js';
import { fromEntry } from './session-registry.js';
import { emit, finishEnded, remember, track, treeOf, type SessionState } from './session-state.js';

/**
 * Loads the durable registry and re-adopts every session still alive; forgets the dead, and
 * stops sessions that never reported to the runner that spawned them (no ghosts).
 */
export async function adoptSessions(state: SessionState): Promise<SessionInfo[]> {
  const { registry, log } = state;
  const entries = registry.load();
  const adopted: SessionInfo[] = [];
  for (const entry of entries) {
    const alive = entry.processStartTime !== undefined && isSameProcess(entry.pid, entry.processStartTime);
    if (!alive) {
      log.info({ sessionId: entry.id, sessionPid: entry.pid }, 'forgetting session whose process is gone (or whose PID was reused)');
      continue;
    }
    if (entry.state === 'starting') {
      // Its spawner (a previous runner) is gone and nobody waits for it: no ghosts.
      log.warn({ sessionId: entry.id, sessionPid: entry.pid }, 'stopping a session that never reported to the runner that spawned it');
      track(state, terminateProcess({ pid: entry.pid, startTime: entry.processStartTime, group: true, ...treeOf(state, entry.id) }));
      continue;
    }
    const session = { ...fromEntry(entry), state: 'running' as const };
    adopted.push(session);
    if (session.requestId) remember(state.requestIndex, session.requestId, session.id);
  }
  registry.replaceAll(adopted);
  for (const session of adopted) {
    log.info({ sessionId: session.id, sessionPid: session.pid, startedBy: session.startedBy }, 'session adopted');
    emit(state, 'adopted', session);
  }
  return adopted.map((s) => ({ ...s }));
}

/** Heartbeat step 1: drops running sessions whose process is gone; returns them as ended. */
export function pruneDeadSessions(state: SessionState): SessionInfo[] {
  const { registry, log } = state;
  if (state.closed) return [];
  registry.retryUnsaved();
  const dead = registry
    .values()
    .filter((s) => s.state === 'running' && !isSameProcess(s.pid, s.processStartTime))
    .map((s) => s.id);
  if (dead.length === 0) return [];
  const removed = registry.removeMany(dead);
  if (removed.length > 0) log.info({ count: removed.length }, 'pruned dead sessions');
  return removed.map((s) => finishEnded(state, s, {}));
}
