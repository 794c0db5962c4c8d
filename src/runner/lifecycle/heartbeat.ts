/**
 * Implements "Heartbeat System" of the runner documentation. Every HAPI_RUNNER_HEARTBEAT_INTERVAL
 * ms (default 60 s) the runner runs four steps, in this order:
 * 1. prune stale sessions: tracked sessions whose process is dead are dropped;
 * 2. version check: the CLI file's mtime is compared with the one the runner started with, and
 *    on a change the runner hands off to a new one (handoff.ts);
 * 3. PID ownership: if another runner has taken over the state file, this one shuts down
 *    (reason "superseded", keeping the files that are now the other runner's);
 * 4. write lastHeartbeat into the state file.
 * A guard keeps two beats from ever running at once: a beat that falls due while the previous
 * one still runs is skipped.
 */
import type { Logger } from '../../shared/logger.js';
import type { SessionManager } from '../domain.js';
import type { Handoff } from './handoff.js';
import type { OwnStateFile } from './state-file.js';

export interface HeartbeatDeps {
  sessions: Pick<SessionManager, 'pruneDead'>;
  handoff: Pick<Handoff, 'checkCliVersion'>;
  stateFile: OwnStateFile;
  /** Step 3 found another runner in the state file: start shutting down, return at once. */
  onSuperseded(ownerPid: number): void;
  log: Logger;
  /** Injected in tests (default: the system clock). */
  now?: () => Date;
}

export interface Heartbeat {
  /** Runs one beat now, unless one is in flight (then waits for that one). */
  beatNow(): Promise<void>;
  /** When step 4 last ran (reported by `hapi runner status`). */
  lastBeat(): Date | undefined;
  /** Stops the timer; a beat in flight finishes. */
  stop(): void;
}

/** The four steps, in the documented order; the returned function runs one beat. */
export function heartbeatSteps(deps: HeartbeatDeps, recordBeat: (at: Date) => void): () => Promise<void> {
  const now = deps.now ?? (() => new Date());
  return async () => {
    // 1. Prune sessions whose process is dead.
    const dropped = deps.sessions.pruneDead();
    if (dropped.length) deps.log.info({ sessions: dropped.map((s) => s.id) }, 'pruned dead sessions');
    // 2. Version check; a hand-off, if any, runs on its own and this beat carries on.
    deps.handoff.checkCliVersion();
    // 3. Does this runner still own the state file?
    const owner = deps.stateFile.otherOwner();
    if (owner !== undefined) {
      deps.log.warn({ owner }, 'another runner owns the state file; exiting');
      deps.onSuperseded(owner);
      return;
    }
    // 4. Write lastHeartbeat.
    const at = now();
    recordBeat(at);
    deps.stateFile.recordHeartbeat(at);
  };
}

/** Starts the timer; the first beat is due one interval from now (start-up wrote the state). */
export function startHeartbeat(intervalMs: number, deps: HeartbeatDeps): Heartbeat {
  let last: Date | undefined;
  const beat = heartbeatSteps(deps, (at) => (last = at));
  let running: Promise<void> | undefined;
  const run = (): Promise<void> => {
    if (running) {
      deps.log.debug('previous heartbeat still running; skipping this cycle');
      return running;
    }
    running = beat()
      .catch((err) => deps.log.error({ err }, 'heartbeat failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return {
    beatNow: run,
    lastBeat: () => last,
    stop: () => clearInterval(timer),
  };
}
