/**
 * Finds the live sessions of one HAPI_HOME from the processes themselves, for when the
 * registry cannot be trusted (unparseable, missing): sessions must never be dropped because a
 * file was lost. Linux only (/proc); elsewhere it finds nothing.
 *
 * - A session spawned by a runner carries `--started-by runner --hapi-session-id <id>
 *   --agent <name>` in its argv (spawner.ts) and HAPI_HOME in its environment.
 * - A terminal session (`hapi` in a terminal) generates its id itself, but hands it to its
 *   agent as HAPI_SESSION_ID: the session is the parent of a process whose environment has
 *   HAPI_SESSION_ID while the parent's own environment has none (the agent's own children
 *   inherit the variable; they are not sessions), and that parent runs the hapi CLI.
 *
 * Only processes of this user are looked at, and only those whose HAPI_HOME (or default
 * ~/.hapi) is this one.
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { isValidSessionId } from '../../contract/types.js';
import { processStartTime } from '../../shared/proc.js';
import { DEFAULT_AGENT } from './agents.js';
import type { RegistryEntry } from './session-registry.js';

/** The CLI file as a session's argv[1] names it: dist/hapi.cjs, or an installed `hapi`. */
const HAPI_CLI = /^hapi(\.[cm]?js)?$/;
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
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === self) continue;
    const info = readProc(Number(name), uid);
    if (info) procs.set(info.pid, info);
  }

  const found = new Map<string, { pid: number; argv: string[] }>();
  // Command lines first; an environment is read only where a command line makes it matter.
  for (const p of procs.values()) {
    // A runner-spawned session process.
    const id = optionValue(p.argv, '--hapi-session-id');
    if (id && optionValue(p.argv, '--started-by') === 'runner' && isHapiCli(p.argv)) {
      if (homeOf(p.env()) === opts.home) found.set(id, { pid: p.pid, argv: p.argv });
      continue;
    }
    // The agent of a session: its parent is the session.
    const parent = procs.get(p.ppid);
    if (!parent || !isHapiCli(parent.argv)) continue;
    const agentOf = p.env()?.get('HAPI_SESSION_ID');
    if (!agentOf || homeOf(p.env()) !== opts.home || parent.env()?.has('HAPI_SESSION_ID') || homeOf(parent.env()) !== opts.home) continue;
    if (!found.has(agentOf)) found.set(agentOf, { pid: parent.pid, argv: parent.argv });
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
      agent: optionValue(argv, '--agent') ?? DEFAULT_AGENT,
      startedBy: optionValue(argv, '--started-by') === 'runner' ? 'runner' : 'terminal',
      startedAt: startedAt(startTime).toISOString(),
      state: 'running',
    });
  }
  return entries;
}

function readProc(pid: number, uid: number | undefined): ProcInfo | undefined {
  try {
    if (uid !== undefined && statSync(`/proc/${pid}`).uid !== uid) return undefined;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    let env: Map<string, string> | undefined | null = null;
    return { pid, ppid, argv, env: () => (env === null ? (env = readEnviron(pid)) : env) };
  } catch {
    // Gone, or not readable: not one of ours.
    return undefined;
  }
}

function readEnviron(pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined; // gone, or not readable: not one of ours
  }
  const env = new Map<string, string>();
  for (const kv of raw.split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return env;
}

/** The HAPI_HOME a process uses, resolved the way paths.ts resolves it (undefined: unknown). */
function homeOf(env: Map<string, string> | undefined): string | undefined {
  if (!env) return undefined;
  const home = env.get('HOME') || homedir();
  const raw = env.get('HAPI_HOME')?.trim();
  if (!raw) return join(home, '.hapi');
  const value = raw.replace(/^~(?=$|\/)/, home);
  return isAbsolute(value) ? value : resolve(value);
}

/** Value of `--name <value>` among hapi's own options (before a `--`). */
function optionValue(argv: string[], name: string): string | undefined {
  const end = argv.indexOf('--');
  const own = end < 0 ? argv : argv.slice(0, end);
  const i = own.indexOf(name);
  return i >= 0 ? own[i + 1] : undefined;
}

function isHapiCli(argv: string[]): boolean {
  return argv.length > 1 && HAPI_CLI.test(basename(argv[1]!));
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
