/**
 * The runner's service code: what both transports (gRPC on the Unix socket, the HTTP
 * gateway) and the hub link call. Transports only decode, call this, and encode.
 */
import { UnavailableError } from '../shared/errors.js';
import type { RunnerStatusInfo } from '../contract/types.js';
import type { SessionManager } from './domain.js';

/** Why the runner shuts down; logged, and it picks the exit code. */
export type ShutdownReason = 'os-signal' | 'cli' | 'hub' | 'exception' | 'handoff' | 'superseded' | 'startup-failure';

export interface RunnerControl {
  /**
   * The session manager, once the runner serves session calls. Calls that arrive while it is
   * still starting (re-adopting sessions, linking to the hub) wait here rather than fail; once
   * shutdown has begun, or when `signal` aborts first, it rejects with Unavailable.
   */
  sessions(signal?: AbortSignal): Promise<SessionManager>;
  status(): RunnerStatusInfo;
  /** Starts a graceful shutdown and returns at once. */
  requestStop(reason: ShutdownReason): void;
}

export type RunnerPhase = 'starting' | 'ready' | 'stopping';

/** The starting -> ready -> stopping life of a runner, with waiters for "ready". */
export interface Readiness {
  phase(): RunnerPhase;
  set(phase: 'ready' | 'stopping'): void;
  whenReady(signal?: AbortSignal): Promise<void>;
}

export function createReadiness(): Readiness {
  let phase: RunnerPhase = 'starting';
  const waiters = new Set<(phase: RunnerPhase) => void>();
  const stopping = () => new UnavailableError('runner is shutting down');
  return {
    phase: () => phase,
    set(next) {
      if (phase === 'stopping') return;
      phase = next;
      for (const wake of [...waiters]) wake(next);
    },
    whenReady(signal) {
      if (phase === 'ready') return Promise.resolve();
      if (phase === 'stopping') return Promise.reject(stopping());
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          waiters.delete(wake);
          signal?.removeEventListener('abort', onAbort);
        };
        const wake = (p: RunnerPhase) => {
          done();
          if (p === 'ready') resolve();
          else reject(stopping());
        };
        const onAbort = () => {
          done();
          reject(new UnavailableError('runner is still starting'));
        };
        if (signal?.aborted) return onAbort();
        waiters.add(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
