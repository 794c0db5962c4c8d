/**
 * Exit codes of the hapi CLI. Commands throw; the one top-level handler in main.ts prints the
 * message and picks the code from the error's kind.
 */
import type { ErrorKind } from './errors.js';

export const EXIT_OK = 0;
/** Anything that failed for a reason other than below. */
export const EXIT_FAILURE = 1;
/** Bad arguments or configuration. */
export const EXIT_USAGE = 2;
/** The runner (or hub) is not running or did not answer in time. */
export const EXIT_UNAVAILABLE = 3;
/** The named thing (session, machine, token) does not exist. */
export const EXIT_NOT_FOUND = 4;

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
