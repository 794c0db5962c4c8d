/**
 * Implements "View Runner Logs" of the runner documentation: runner log files
 * logs/runner-<YYYYMMDD-HHMMSS>.log, newest found by name, old ones pruned at start
 * (HAPI_RUNNER_LOG_KEEP). The files are the shared daemon log files (src/shared/log-files.ts).
 */
import { newestLog, newLogPath, pruneLogs } from '../../shared/log-files.js';

/** A new log path; adds -<pid> when another runner started in the same second. */
export function newRunnerLogPath(logsDir: string, now = new Date(), pid = process.pid): string {
  return newLogPath('runner', logsDir, now, pid);
}

/** The newest runner log, or undefined when there is none. */
export function newestRunnerLog(logsDir: string): string | undefined {
  return newestLog('runner', logsDir);
}

/** Keeps the newest `keep` runner logs (never deleting `current`). */
export function pruneRunnerLogs(logsDir: string, keep: number, current?: string): number {
  return pruneLogs('runner', logsDir, keep, current);
}
