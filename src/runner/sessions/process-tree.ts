/**
 * Process-tree facts and termination for session processes. A runner-spawned session leads
 * its own process group (detached) and its agent runs in that group, but an agent's child may
 * leave the group (setsid) or outlive its parent: stopping a session stops every process of
 * its tree, found through /proc on Linux.
 */
import { execFileSync } from 'node:child_process';
import { errnoCode } from '../../shared/errors.js';
import { isSameProcess, processStartTime, readProcRow, readProcTable, signalProcess, type ProcRow } from '../../shared/proc.js';
import { carriesSession } from './session-process.js';

interface StatFields {
  ppid: number;
  pgid: number;
}

function statFields(pid: number): StatFields | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (process.platform === 'linux') return readProcRow(pid);
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
  const table = readProcTable();
  // This process is always in the table: an empty one means /proc could not be read, and then
  // kill()'s answer stands.
  if (table.size === 0) return true;
  for (const row of table.values()) if (row.pgid === pgid && !row.zombie) return true;
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
  /** Also signal the members of its process group (pgid = pid), while it leads that group. */
  group: boolean;
  /**
   * The session's id and HAPI_HOME: processes started with HAPI_SESSION_ID=<id> (and this
   * HAPI_HOME) belong to the session even after their parent died and they were reparented.
   */
  sessionId?: string;
  hapiHome?: string;
  /** SIGTERM -> SIGKILL grace. */
  graceMs: number;
  /** How long to wait for the SIGKILLed tree to vanish before giving up. */
  killWaitMs?: number;
}

export type TerminateResult = 'stopped' | 'already-gone' | 'still-alive';

/**
 * Stops a session's whole process tree: SIGTERM, then SIGKILL after the grace period, and
 * waits until every process of it is gone. On Linux the tree is found through /proc (see
 * sessionTree), so a child that left the group with setsid() is stopped too; elsewhere the
 * process group is signalled. Every signal goes to a PID whose start time was just checked.
 */
export async function terminateProcess(opts: TerminateOptions): Promise<TerminateResult> {
  if (process.platform !== 'linux') return terminateGroup(opts);
  /** Every process of the tree seen so far, with its start time. */
  const known = new Map<number, string>();
  let signalled = false;
  for (const [signal, waitMs] of [['SIGTERM', opts.graceMs], ['SIGKILL', opts.killWaitMs ?? 5_000]] as const) {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const live = sessionTree(opts, known);
      if (live.size === 0) return signalled ? 'stopped' : 'already-gone';
      for (const [pid, startTime] of live) {
        known.set(pid, startTime);
        // Checked right before the signal: a PID that was reused meanwhile is left alone.
        if (processStartTime(pid) === startTime) signalProcess(pid, signal);
      }
      signalled = true;
      const allGone = () => [...live].every(([pid, startTime]) => processStartTime(pid) !== startTime);
      // Once this batch is gone, look again: something may have been started meanwhile.
      if (!(await pollUntil(allGone, Math.max(0, deadline - Date.now())))) break;
    }
  }
  return sessionTree(opts, known).size === 0 ? 'stopped' : 'still-alive';
}

/**
 * The live processes of a session (PID -> start time): the session process (if it is still
 * the one with that start time), its process group while it leads it (when `group`), the
 * processes carrying its HAPI_SESSION_ID, those already `known`, and every descendant of
 * these through PPid links (whatever their session or group). Never the runner itself.
 */
export function sessionTree(opts: Pick<TerminateOptions, 'pid' | 'startTime' | 'group' | 'sessionId' | 'hapiHome'>, known = new Map<number, string>()): Map<number, string> {
  const table = readProcTable();
  const found = new Map<number, string>();
  const add = (row: ProcRow | undefined) => {
    if (row && !row.zombie && row.pid !== process.pid) found.set(row.pid, row.startTime);
  };
  const root = table.get(opts.pid);
  const rootAlive = root !== undefined && !root.zombie && (opts.startTime === undefined || root.startTime === opts.startTime);
  if (rootAlive) add(root);
  for (const row of table.values()) {
    if (rootAlive && opts.group && row.pgid === opts.pid) add(row);
    else if (known.get(row.pid) === row.startTime) add(row);
    else if (opts.sessionId && opts.hapiHome && !row.zombie && carriesSession(row.pid, opts.sessionId, opts.hapiHome)) add(row);
  }
  const children = new Map<number, ProcRow[]>();
  for (const row of table.values()) {
    const list = children.get(row.ppid);
    if (list) list.push(row);
    else children.set(row.ppid, [row]);
  }
  const queue = [...found.keys()];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (found.has(child.pid) || child.zombie || child.pid === process.pid) continue;
      add(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** The portable fallback: signal the process group (or the process) and wait for it to go. */
async function terminateGroup(opts: TerminateOptions): Promise<TerminateResult> {
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
