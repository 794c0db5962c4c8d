/**
 * What keeps this process's event loop alive, for the last log line of a graceful shutdown:
 * after it nothing should hold the process open, and a forgotten timer (one once delayed every
 * linked runner stop by 2 s) shows up here instead of as an unexplained wait.
 */

/** Referenced timers still pending (unref'd ones do not keep the process alive and are not counted). */
export function pendingTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}
