/**
 * Implements "Lock File and State Management" (lock file) of the runner documentation, and
 * the "another runner is already running" case of "Runner Won't Start": the single-instance
 * lock, runner.state.json.lock, created with O_EXCL and holding the owner's PID and process
 * start time. A lock whose PID is dead, or whose PID now belongs to another process (start
 * time differs), is stale and is taken over; a live one is never stolen. Takeovers are
 * serialised through a short-lived guard file so two contenders can never both remove a lock
 * (and so never remove a fresh, live one).
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createFileExclusive } from '../../shared/atomic-file.js';
import { errnoCode } from '../../shared/errors.js';
import { isSameProcess, processStartTime } from '../../shared/proc.js';

export interface LockOwner {
  pid: number;
  startTime?: string;
  acquiredAt?: string;
}

export type LockResult = { acquired: true; release(): void } | { acquired: false; owner: LockOwner };

/** A lock file younger than this with unreadable content is being written right now. */
const FRESH_MS = 2_000;
/** A takeover guard older than this was left by a process that died mid-takeover. */
const GUARD_STALE_MS = 5_000;

export function readLockOwner(lockFile: string): LockOwner | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8');
  } catch (err) {
    return errnoCode(err) === 'ENOENT' ? 'missing' : 'unreadable';
  }
  try {
    const v = JSON.parse(text) as LockOwner;
    if (Number.isInteger(v.pid) && v.pid > 0) return v;
  } catch {
    // fall through
  }
  return 'unreadable';
}

/** True when the owner recorded in the lock is a live process (the same one). */
export function isLockOwnerAlive(owner: LockOwner): boolean {
  return isSameProcess(owner.pid, owner.startTime);
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Infinity;
  }
}

function tryCreate(lockFile: string, pid: number): boolean {
  const owner: LockOwner = { pid, startTime: processStartTime(pid), acquiredAt: new Date().toISOString() };
  // Whole content or no file: a full disk throws "disk full" and leaves no empty lock behind.
  return createFileExclusive(lockFile, JSON.stringify(owner), 0o600);
}

/**
 * Tries to take the lock for `pid` (default: this process). Never blocks for long: it either
 * acquires, or reports the live owner.
 */
export function acquireRunnerLock(lockFile: string, pid = process.pid): LockResult {
  const guard = `${lockFile}.takeover`;
  for (let attempt = 0; attempt < 200; attempt++) {
    if (tryCreate(lockFile, pid)) {
      return { acquired: true, release: () => releaseRunnerLock(lockFile, pid) };
    }
    const owner = readLockOwner(lockFile);
    if (owner === 'missing') continue;
    if (owner !== 'unreadable' && isLockOwnerAlive(owner)) return { acquired: false, owner };
    if (owner === 'unreadable' && ageMs(lockFile) < FRESH_MS) {
      // Someone created it a moment ago and is writing its content: treat as held.
      return { acquired: false, owner: { pid: 0 } };
    }
    // Stale. Only the holder of the guard may remove it, after re-checking under the guard.
    if (!tryCreate(guard, pid)) {
      if (ageMs(guard) > GUARD_STALE_MS) rmSync(guard, { force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      continue;
    }
    try {
      const again = readLockOwner(lockFile);
      const stillStale =
        again !== 'missing' &&
        (again === 'unreadable' ? ageMs(lockFile) >= FRESH_MS : !isLockOwnerAlive(again));
      if (stillStale) rmSync(lockFile, { force: true });
    } finally {
      rmSync(guard, { force: true });
    }
  }
  const owner = readLockOwner(lockFile);
  return { acquired: false, owner: typeof owner === 'object' ? owner : { pid: 0 } };
}

/** Removes the lock only if `pid` owns it. */
export function releaseRunnerLock(lockFile: string, pid = process.pid): boolean {
  const owner = readLockOwner(lockFile);
  if (typeof owner === 'object' && owner.pid !== pid) return false;
  if (owner === 'missing') return false;
  rmSync(lockFile, { force: true });
  return true;
}
