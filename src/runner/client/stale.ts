/**
 * Stale runner files (runner documentation, "Lock File and State Management" and "Runner Won't
 * Start"), client side: when no runner answers, tell apart "nothing there", "a live runner that
 * does not answer", and lock, state and socket files left by a dead runner (removed).
 */
import { existsSync, rmSync } from 'node:fs';
import type { HapiPaths } from '../../shared/paths.js';
import { isSameProcess } from '../../shared/proc.js';
import { probeSocket } from '../control-socket.js';
import { isLockOwnerAlive, readLockOwner } from '../lifecycle/runner-lock.js';
import { readStateFile } from '../lifecycle/state-file.js';

export type StaleCheck =
  | { kind: 'none' }
  | { kind: 'alive-not-answering'; pid: number }
  | { kind: 'stale-cleaned'; pid?: number; removed: string[] };

/**
 * When no runner answers: tells apart "nothing there", "a live runner that does not answer",
 * and "stale files left by a dead runner" (which it removes: lock, state, socket).
 */
export async function inspectAndCleanStale(paths: HapiPaths): Promise<StaleCheck> {
  const state = readStateFile(paths.stateFile);
  const lock = readLockOwner(paths.lockFile);
  if (typeof lock === 'object' && isLockOwnerAlive(lock)) return { kind: 'alive-not-answering', pid: lock.pid };
  if (state.kind === 'ok' && isSameProcess(state.state.pid, state.state.processStartTime) && typeof lock !== 'object') {
    return { kind: 'alive-not-answering', pid: state.state.pid };
  }
  const removed: string[] = [];
  if (state.kind !== 'missing') {
    rmSync(paths.stateFile, { force: true });
    removed.push(paths.stateFile);
  }
  if (lock !== 'missing') {
    // Re-check under the same rule the daemon uses: never remove a live owner's lock.
    const again = readLockOwner(paths.lockFile);
    if (!(typeof again === 'object' && isLockOwnerAlive(again))) {
      rmSync(paths.lockFile, { force: true });
      removed.push(paths.lockFile);
    }
  }
  if (existsSync(paths.socket) && !(await probeSocket(paths.socket))) {
    rmSync(paths.socket, { force: true });
    removed.push(paths.socket);
  }
  if (removed.length === 0) return { kind: 'none' };
  return { kind: 'stale-cleaned', pid: state.kind === 'ok' ? state.state.pid : typeof lock === 'object' ? lock.pid : undefined, removed };
}
