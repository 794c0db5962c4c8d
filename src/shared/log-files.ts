/**
 * The daemons' log files: logs/<program>-<YYYYMMDD-HHMMSS>.log (runner, hub), one per start,
 * newest found by name, old ones pruned at start (HAPI_RUNNER_LOG_KEEP, HAPI_HUB_LOG_KEEP).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export type LogProgram = 'runner' | 'hub';

const patternOf = (program: LogProgram) => new RegExp(`^${program}-(\\d{8}-\\d{6})(?:-\\d+)?\\.log$`);

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A new log path; adds -<pid> when another process of the program started in the same second. */
export function newLogPath(program: LogProgram, logsDir: string, now = new Date(), pid = process.pid): string {
  const base = join(logsDir, `${program}-${stamp(now)}.log`);
  return existsSync(base) ? join(logsDir, `${program}-${stamp(now)}-${pid}.log`) : base;
}

/** The program's log file names, oldest first. */
export function logFiles(program: LogProgram, logsDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(logsDir);
  } catch {
    return [];
  }
  const re = patternOf(program);
  // By name without `.log`: `runner-<stamp>` before `runner-<stamp>-<pid>` (started later in
  // the same second); sorting the full names would put the `-` before the `.` and get that wrong.
  const key = (n: string) => n.slice(0, -'.log'.length);
  return names.filter((n) => re.test(n)).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The newest log of the program, or undefined when there is none. */
export function newestLog(program: LogProgram, logsDir: string): string | undefined {
  const logs = logFiles(program, logsDir);
  return logs.length ? join(logsDir, logs[logs.length - 1]!) : undefined;
}

/** Keeps the newest `keep` logs of the program (never deleting `current`); returns how many were removed. */
export function pruneLogs(program: LogProgram, logsDir: string, keep: number, current?: string): number {
  const logs = logFiles(program, logsDir);
  let removed = 0;
  for (const name of logs.slice(0, Math.max(0, logs.length - keep))) {
    const path = join(logsDir, name);
    if (path === current) continue;
    rmSync(path, { force: true });
    removed++;
  }
  return removed;
}
