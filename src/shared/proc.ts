/**
 * Process facts from the OS: liveness, and a start time that tells a live process apart from a
 * later one that reused its PID. Linux reads /proc/<pid>/stat; elsewhere `ps -o lstart=`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { errnoCode } from './errors.js';

/** True when a process with this PID exists (even if owned by another user). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/**
 * An opaque, stable start-time token for a live process, or undefined if it does not exist.
 * On Linux it is field 22 of /proc/<pid>/stat (clock ticks since boot); a zombie counts as gone.
 */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (process.platform === 'linux') {
    const row = readProcRow(pid);
    return row && !row.zombie ? row.startTime : undefined;
  }
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and is the same process that had `startTime`. */
export function isSameProcess(pid: number, startTime: string | undefined): boolean {
  const now = processStartTime(pid);
  if (now === undefined) return false;
  return startTime === undefined || startTime === now;
}

/**
 * isSameProcess without forking: on Linux it is exactly isSameProcess (one /proc read, so a
 * zombie or a reused PID counts as gone); elsewhere it falls back to kill(pid, 0), because a
 * `ps` per entry would make listing many sessions slow.
 */
export function isSameProcessCheap(pid: number, startTime: string | undefined): boolean {
  return process.platform === 'linux' ? isSameProcess(pid, startTime) : isProcessAlive(pid);
}

/** Sends a signal, ignoring "no such process". Returns false when the target was gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals, group = false): boolean {
  try {
    process.kill(group ? -pid : pid, signal);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ESRCH') return false;
    throw err;
  }
}

/** Polls until `pid` is gone or the timeout passes. Resolves true when it is gone. */
export async function waitForExit(pid: number, timeoutMs: number, startTime?: string): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    if (!isSameProcess(pid, startTime)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** One row of the Linux process table (/proc/<pid>/stat). */
export interface ProcRow {
  pid: number;
  ppid: number;
  pgid: number;
  /** Start-time token, as processStartTime returns it. */
  startTime: string;
  /** Exited but not reaped: it cannot be signalled into doing anything. */
  zombie: boolean;
  /** Running or waiting for a CPU (state R): busy, not idle, whatever its output says. */
  runnable: boolean;
}

/** Every process of /proc/<pid>/stat (Linux only; empty elsewhere). */
export function readProcTable(): Map<number, ProcRow> {
  const rows = new Map<number, ProcRow>();
  if (process.platform !== 'linux') return rows;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return rows;
  }
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const row = readProcRow(Number(entry));
    if (row) rows.set(row.pid, row); // else gone meanwhile
  }
  return rows;
}

/** One process's row of the table, or undefined when it is gone (Linux only). */
export function readProcRow(pid: number): ProcRow | undefined {
  const stat = readProcFile(pid, 'stat');
  if (stat === undefined) return undefined;
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    startTime: rest[19] ?? '',
    zombie: rest[0] === 'Z' || rest[0] === 'X',
    runnable: rest[0] === 'R',
  };
}

/**
 * The environment a process was started with (/proc/<pid>/environ), or undefined when it is
 * gone or not readable (another user's process). Linux only.
 */
export function readProcEnviron(pid: number): Map<string, string> | undefined {
  const raw = readProcFile(pid, 'environ');
  if (raw === undefined) return undefined;
  const env = new Map<string, string>();
  for (const item of raw.split('\0')) {
    const eq = item.indexOf('=');
    if (eq > 0) env.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return env;
}

/** The argv of a process (/proc/<pid>/cmdline), or undefined when gone or unreadable. Linux only. */
export function readProcArgv(pid: number): string[] | undefined {
  const raw = readProcFile(pid, 'cmdline');
  if (raw === undefined || raw === '') return undefined;
  return raw.replace(/\0$/, '').split('\0');
}

function readProcFile(pid: number, name: string): string | undefined {
  if (process.platform !== 'linux' || !Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}
