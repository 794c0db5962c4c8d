/**
 * Implements "View Runner Logs" of the runner documentation (`hapi runner logs` prints the
 * newest): runner log files logs/runner-<YYYYMMDD-HHMMSS>.log, newest found by name, old ones
 * pruned at start (HAPI_RUNNER_LOG_KEEP).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const LOG_RE = /^runner-(\d{8}-\d{6})(?:-\d+)?\.log$/;

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A new log path; adds -<pid> when another runner started in the same second. */
export function newRunnerLogPath(logsDir: string, now = new Date(), pid = process.pid): string {
  const base = join(logsDir, `runner-${stamp(now)}.log`);
  return existsSync(base) ? join(logsDir, `runner-${stamp(now)}-${pid}.log`) : base;
}

function runnerLogs(logsDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(logsDir);
  } catch {
    return [];
  }
  return names.filter((n) => LOG_RE.test(n)).sort();
}

/** The newest runner log, or undefined when there is none. */
export function newestRunnerLog(logsDir: string): string | undefined {
  const logs = runnerLogs(logsDir);
  return logs.length ? join(logsDir, logs[logs.length - 1]!) : undefined;
}

/** Keeps the newest `keep` runner logs (never deleting `current`). */
export function pruneRunnerLogs(logsDir: string, keep: number, current?: string): number {
  const logs = runnerLogs(logsDir);
  let removed = 0;
  for (const name of logs.slice(0, Math.max(0, logs.length - keep))) {
    const path = join(logsDir, name);
    if (path === current) continue;
    rmSync(path, { force: true });
    removed++;
  }
  return removed;
}
