/**
 * Process-group facts and termination for session processes. A runner-spawned session leads
 * its own process group (detached), and its agent runs in that group, so signalling the group
 * reaches the whole tree even when the session process is already gone.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { errnoCode } from '../../shared/errors.js';
import { isSameProcess, signalProcess } from '../../shared/proc.js';

interface StatFields {
  ppid: number;
  pgid: number;
}

function statFields(pid: number): StatFields | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // comm may contain spaces and parentheses: fields start after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { ppid: Number(rest[1]), pgid: Number(rest[2]) };
    } catch {
      return undefined;
    }
  }
  try {
    const out = execFileSync('ps', ['-o', 'ppid=,pgid=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const [ppid, pgid] = out.trim().split(/\s+/).map(Number);
    return ppid && pgid ? { ppid, pgid } : undefined;
  } catch {
    return undefined;
  }
}

/** Process group id of a live process. */
export function processGroupOf(pid: number): number | undefined {
  return statFields(pid)?.pgid;
}

/** True when `pid` is `ancestor` or one of its descendants (walks parent links). */
export function isSelfOrDescendant(pid: number, ancestor: number): boolean {
  let current = pid;
  for (let depth = 0; depth < 64 && current > 1; depth++) {
    if (current === ancestor) return true;
    const fields = statFields(current);
    if (!fields) return false;
    current = fields.ppid;
  }
  return false;
}

/** True while any process of group `pgid` exists (zombies do not count). */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return false;
  }
  // kill() also succeeds for zombies, and an orphaned zombie lingers until init reaps it,
  // which some inits (containers, VMs) do only now and then. On Linux, look for a live member.
  return process.platform === 'linux' ? hasLiveMember(pgid) : true;
}

function hasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3);
    if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') return true;
  }
  return false;
}

/**
 * True when signals for this session should go to its process group: it leads a group of its
 * own. A terminal session run from a non-interactive shell shares the shell's group, and
 * signalling that group would hit the shell too, so then only the process itself is signalled.
 */
export function leadsOwnGroup(pid: number): boolean {
  return processGroupOf(pid) === pid;
}

export interface TerminateOptions {
  pid: number;
  /** Start-time token; guards against signalling a process that reused the PID. */
  startTime?: string;
  /** Signal the process group (pgid = pid) rather than the process only. */
  group: boolean;
  /** SIGTERM -> SIGKILL grace. */
  graceMs: number;
  /** How long to wait for the SIGKILLed tree to vanish before giving up. */
  killWaitMs?: number;
}

export type TerminateResult = 'stopped' | 'already-gone' | 'still-alive';

/**
 * SIGTERM, then SIGKILL after the grace period, and wait until the process (and its group when
 * `group`) is gone. Never signals a PID whose start time no longer matches.
 */
export async function terminateProcess(opts: TerminateOptions): Promise<TerminateResult> {
  const { pid, startTime, group } = opts;
  const leaderAlive = isSameProcess(pid, startTime);
  // The leader may be gone while its agent lingers in the group (e.g. it ignored SIGTERM).
  const groupAlive = group && isGroupAlive(pid);
  if (!leaderAlive && !groupAlive) return 'already-gone';
  const gone = () => !isSameProcess(pid, startTime) && !(group && isGroupAlive(pid));

  send(pid, 'SIGTERM', group, leaderAlive);
  if (await pollUntil(gone, opts.graceMs)) return 'stopped';
  send(pid, 'SIGKILL', group, isSameProcess(pid, startTime));
  if (await pollUntil(gone, opts.killWaitMs ?? 5_000)) return 'stopped';
  return 'still-alive';
}

function send(pid: number, signal: NodeJS.Signals, group: boolean, leaderAlive: boolean): void {
  if (group) {
    if (signalProcess(pid, signal, true)) return;
  }
  if (leaderAlive) signalProcess(pid, signal, false);
}

/** Polls with a short, growing interval until `done()` or the timeout. */
export async function pollUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}
