/**
 * Exit codes of every hapi process, defined once. CLI commands throw; the one top-level handler
 * in src/cli/main.ts prints the message and picks the code from the error's kind. The runner
 * daemon (src/runner/daemon.ts) exits with these codes too, and the runner client
 * (src/runner/client/start.ts) reads them, which is why they live in shared/ and not in the CLI.
 */
import { constants } from 'node:os';
import type { ErrorKind } from './errors.js';

export const EXIT_OK = 0;
/** Anything that failed for a reason other than below. */
export const EXIT_FAILURE = 1;
/** Bad arguments or configuration. */
export const EXIT_USAGE = 2;
/** The runner (or hub) is not running or did not answer in time. */
export const EXIT_UNAVAILABLE = 3;
/**
 * A runner daemon that found another runner holding the lock. The same code as "not running":
 * from the starting command's side, this runner could not become the one to talk to; `hapi
 * runner start` reads it as "another start won the race" and waits for the winner.
 */
export const EXIT_ALREADY_RUNNING = EXIT_UNAVAILABLE;
/** The named thing (session, machine, token) does not exist. */
export const EXIT_NOT_FOUND = 4;
/**
 * A runner under a service manager (systemd, launchd) that hands off to an upgraded build: it
 * exits with this status after the new build passed its self-check, and the unit restarts on it
 * (`RestartForceExitStatus=`, launchd's KeepAlive on a non-zero exit), since Node cannot exec the
 * new build in place. 75 is EX_TEMPFAIL of sysexits.h ("try again later"); hapi uses it for
 * nothing else, so the unit can tell a hand-off from a crash in its logs.
 */
export const EXIT_SERVICE_RESTART = 75;

export function exitCodeOf(kind: ErrorKind): number {
  switch (kind) {
    case 'InvalidArgument':
      return EXIT_USAGE;
    case 'Unavailable':
    case 'DeadlineExceeded':
      return EXIT_UNAVAILABLE;
    case 'NotFound':
      return EXIT_NOT_FOUND;
    default:
      return EXIT_FAILURE;
  }
}

/** A session's exit code from its agent's exit status: the agent's code, or 128 + signal number when it was killed (as shells do). */
export function exitCodeOfStatus(status: { exitCode?: number; exitSignal?: string }): number {
  if (status.exitSignal) return 128 + (constants.signals[status.exitSignal as NodeJS.Signals] ?? 0);
  return status.exitCode ?? 1;
}
