/**
 * Finds the live sessions of one HAPI_HOME from the processes themselves, for when the
 * registry cannot be trusted (unparseable, missing): sessions must never be dropped because a
 * file was lost. Linux only (/proc); elsewhere it finds nothing. What a session process looks
 * like is session-process.ts's to say; with no claim to check, this asks for the hapi CLI:
 *
 * - A session spawned by a runner: the hapi CLI with `--started-by runner --hapi-session-id
 *   <id>` among its own options, and this HAPI_HOME in its environment.
 * - A terminal session (`hapi` in a terminal) generates its id itself, but hands it to its
 *   agent as HAPI_SESSION_ID: the session is the parent of a process whose environment has
 *   HAPI_SESSION_ID while the parent's own environment has none (the agent's own children
 *   inherit the variable; they are not sessions), and that parent runs the hapi CLI.
 *
 * Only processes of this user are looked at, and only those whose HAPI_HOME (or default
 * ~/.hapi) is this one.
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { isValidSessionId } from '../../contract/types.js';
import { processStartTime, readProcArgv, readProcEnviron, readProcTable, type ProcRow } from '../../shared/proc.js';
import { DEFAULT_AGENT } from './agents.js';
import { hapiHomeOfEnviron, hapiOption, isHapiCli, sessionMarkOf, SESSION_ID_ENV } from './session-process.js';
import type { RegistryEntry } from './session-registry.js';

/** Linux's USER_HZ: /proc/<pid>/stat start times are in these ticks since boot. */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcInfo {
  pid: number;
  ppid: number;
  argv: string[];
  /**
   * The environment, read on first use: only hapi processes and their children need it, and
   * reading every process's environ made a runner's start allocate (and optimise its reader)
   * for the whole machine, megabytes of resident memory for its life (bench/idle.mjs).
   * Undefined when it cannot be read (gone, or not ours).
   */
  env(): Map<string, string> | undefined;
}

export interface DiscoverOptions {
  /** The HAPI_HOME whose sessions are wanted (absolute, as hapiPaths resolves it). */
  home: string;
  /** Never reported as a session (the runner itself). Default: this process. */
  selfPid?: number;
}

export function discoverSessions(opts: DiscoverOptions): RegistryEntry[] {
  if (process.platform !== 'linux') return [];
  const self = opts.selfPid ?? process.pid;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const procs = new Map<number, ProcInfo>();
  for (const row of readProcTable().values()) {
    if (row.pid === self) continue;
    const info = readProc(row, uid);
    if (info) procs.set(info.pid, info);
  }

  const found = new Map<string, { pid: number; argv: string[] }>();
  // Command lines first; an environment is read only where a command line makes it matter.
  for (const p of procs.values()) {
    // A runner-spawned session process.
    const id = hapiOption(p.argv, '--hapi-session-id');
    if (id && hapiOption(p.argv, '--started-by') === 'runner' && isHapiCli(p.argv)) {
      if (homeOf(p.env()) === opts.home) found.set(id, { pid: p.pid, argv: p.argv });
      continue;
    }
    // The agent of a session: its parent is the session.
    const parent = procs.get(p.ppid);
    if (!parent || !isHapiCli(parent.argv)) continue;
    const mark = sessionMarkOf(p.env());
    if (!mark || mark.home !== opts.home || parent.env()?.has(SESSION_ID_ENV) || homeOf(parent.env()) !== opts.home) continue;
    if (!found.has(mark.sessionId)) found.set(mark.sessionId, { pid: parent.pid, argv: parent.argv });
  }

  const entries: RegistryEntry[] = [];
  for (const [id, { pid, argv }] of found) {
    if (!isValidSessionId(id)) continue;
    const startTime = processStartTime(pid);
    if (startTime === undefined) continue;
    entries.push({
      id,
      pid,
      processStartTime: startTime,
      directory: readCwd(pid),
      agent: hapiOption(argv, '--agent') ?? DEFAULT_AGENT,
      startedBy: hapiOption(argv, '--started-by') === 'runner' ? 'runner' : 'terminal',
      startedAt: startedAt(startTime).toISOString(),
      state: 'running',
    });
  }
  return entries;
}

function readProc(row: ProcRow, uid: number | undefined): ProcInfo | undefined {
  try {
    if (uid !== undefined && statSync(`/proc/${row.pid}`).uid !== uid) return undefined;
  } catch {
    // Gone: not one of ours.
    return undefined;
  }
  let env: Map<string, string> | undefined | null = null;
  return {
    pid: row.pid,
    ppid: row.ppid,
    argv: readProcArgv(row.pid) ?? [],
    env: () => (env === null ? (env = readProcEnviron(row.pid)) : env),
  };
}

/** The HAPI_HOME a process uses (undefined: its environment cannot be read). */
function homeOf(env: Map<string, string> | undefined): string | undefined {
  return env ? hapiHomeOfEnviron(env) : undefined;
}

function readCwd(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

/** Wall-clock start of a process from its /proc start time (ticks since boot). */
function startedAt(startTicks: string): Date {
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    if (btime) return new Date((Number(btime[1]) + Number(startTicks) / CLOCK_TICKS_PER_SECOND) * 1000);
  } catch {
    // fall through
  }
  return new Date();
}
