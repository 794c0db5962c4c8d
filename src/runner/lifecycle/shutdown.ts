/**
 * Implements "Stop Runner" of the runner documentation: one graceful shutdown per runner, with a
 * reason. Whoever asks first (a signal, `hapi runner stop`, the hub, the hand-off, the heartbeat
 * finding the runner superseded, an uncaught exception, a failed start) picks the reason; later
 * requests join the shutdown already under way. The steps run one after the other in the order
 * the daemon gives (the reverse of its start order); a failing step is logged and the next one
 * still runs, so the state file and the lock are removed whatever failed before. The reason is
 * logged and becomes the exit code, which is what the daemon awaits.
 */
import { pendingTimers } from '../../shared/event-loop.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_SERVICE_RESTART } from '../../shared/exit-codes.js';
import type { Logger } from '../../shared/logger.js';
import type { ShutdownReason } from '../runner-control.js';

const EXIT_BY_REASON: Record<ShutdownReason, number> = {
  'os-signal': EXIT_OK,
  cli: EXIT_OK,
  hub: EXIT_OK,
  handoff: EXIT_OK,
  // The service manager restarts the unit on this status, with the new build.
  'service-restart': EXIT_SERVICE_RESTART,
  superseded: EXIT_OK,
  exception: EXIT_FAILURE,
  'startup-failure': EXIT_FAILURE,
};

/** The exit code of a runner that shut down for `reason`. */
export function exitCodeFor(reason: ShutdownReason): number {
  return EXIT_BY_REASON[reason];
}

export interface ShutdownStep {
  name: string;
  run(reason: ShutdownReason): unknown;
  /**
   * A file that, once this runner is superseded, belongs to the runner that took over (state
   * file, socket, lock): kept when the reason is "superseded".
   */
  sharedFile?: boolean;
}

export interface Shutdown {
  /** Starts the shutdown (first reason wins) and resolves with the exit code when it is done. */
  request(reason: ShutdownReason): Promise<number>;
  /** The reason of the shutdown under way, or undefined while the runner runs. */
  reason(): ShutdownReason | undefined;
  /** Resolves with the exit code once a shutdown, requested by anyone, has finished. */
  readonly done: Promise<number>;
}

export interface ShutdownOptions {
  /** The steps in the order they run; read when the shutdown starts. */
  steps(): ShutdownStep[];
  /** Awaited before the first step (the daemon: lets a start step in flight finish). */
  before?: () => Promise<unknown>;
  log: Logger;
}

export function createShutdown(opts: ShutdownOptions): Shutdown {
  let reason: ShutdownReason | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  async function run(why: ShutdownReason): Promise<void> {
    opts.log.info({ reason: why }, 'runner shutting down');
    try {
      await opts.before?.();
    } catch (err) {
      opts.log.error({ err }, 'error during shutdown');
    }
    for (const step of opts.steps()) {
      if (step.sharedFile && why === 'superseded') continue;
      try {
        await step.run(why);
      } catch (err) {
        opts.log.error({ err, step: step.name }, 'error during shutdown');
      }
    }
    const code = exitCodeFor(why);
    // pendingTimers: anything left here delays the exit (and a test checks there is none).
    opts.log.info({ reason: why, exitCode: code, pendingTimers: pendingTimers() }, 'runner stopped');
    finish(code);
  }

  return {
    request(why) {
      if (reason === undefined) {
        reason = why;
        void run(why);
      }
      return done;
    },
    reason: () => reason,
    done,
  };
}
