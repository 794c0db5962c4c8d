/**
 * Telling the processes of a hapi session apart from any other process, from what the OS says
 * about them (/proc). Linux only; elsewhere nothing matches. The one place that knows what a
 * session process looks like:
 * - a runner-spawned session runs the hapi CLI with `--started-by runner --hapi-session-id <id>
 *   --agent <name>` (spawner.ts);
 * - a session hands its id to its agent as HAPI_SESSION_ID=<id> and HAPI_SESSION_PID=<its PID>
 *   (run-session.ts), and everything the agent starts inherits them;
 * - every process of a HAPI_HOME has that HAPI_HOME (explicitly, or by default from its HOME).
 *
 * Two uses, with different evidence on purpose: discovery (session-discovery.ts) finds sessions
 * nobody claims, so it requires the hapi CLI; a report (verifyReportedProcess) claims an id and
 * a PID, which the process must bear out before the runner will ever signal it.
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, resolve } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '../../shared/errors.js';
import { resolveHapiHome } from '../../shared/paths.js';
import { processStartTime, readProcArgv, readProcEnviron, readProcTable } from '../../shared/proc.js';

/** The environment variables a session passes to its agent (and the agent to its children). */
export const SESSION_ID_ENV = 'HAPI_SESSION_ID';
export const SESSION_PID_ENV = 'HAPI_SESSION_PID';

/** The CLI file as a session names it after node and its flags: dist/hapi.cjs, or an installed `hapi`. */
const HAPI_CLI = /^hapi(\.[cm]?js)?$/;

/** True when the process runs the hapi CLI (`node [node flags] <hapi cli> ...`). */
export function isHapiCli(argv: string[]): boolean {
  // Node's own flags come before the script (sessions run with SESSION_NODE_FLAGS).
  const script = argv.slice(1).find((a) => !a.startsWith('-'));
  return script !== undefined && HAPI_CLI.test(basename(script));
}

/** Value of `--name <value>` among hapi's own options (before a `--`). */
export function hapiOption(argv: string[], name: string): string | undefined {
  const end = argv.indexOf('--');
  const own = end < 0 ? argv : argv.slice(0, end);
  const i = own.indexOf(name);
  return i >= 0 ? own[i + 1] : undefined;
}

/** The HAPI_HOME a process of this environment uses. */
export function hapiHomeOfEnviron(env: Map<string, string>): string {
  return resolveHapiHome({ HAPI_HOME: env.get('HAPI_HOME') }, env.get('HOME') || homedir());
}

/** What a process's environment says about the session it was started for, if any. */
export interface SessionMark {
  /** HAPI_SESSION_ID. */
  sessionId: string;
  /** HAPI_SESSION_PID, when set: the PID of the session process that started the agent. */
  sessionPid?: string;
  /** Its HAPI_HOME. */
  home: string;
}

/** The session mark of an environment (undefined: it has no HAPI_SESSION_ID). */
export function sessionMarkOf(env: Map<string, string> | undefined): SessionMark | undefined {
  const sessionId = env?.get(SESSION_ID_ENV);
  if (!env || !sessionId) return undefined;
  return { sessionId, sessionPid: env.get(SESSION_PID_ENV), home: hapiHomeOfEnviron(env) };
}

/** True when `pid` was started with HAPI_SESSION_ID=<sessionId> and belongs to `hapiHome`. */
export function carriesSession(pid: number, sessionId: string, hapiHome: string): boolean {
  const mark = sessionMarkOf(readProcEnviron(pid));
  return mark !== undefined && mark.sessionId === sessionId && sameHome(mark.home, hapiHome);
}

/** The same directory, however spelled (trailing slash, `..`, symlinks). */
export function sameHome(a: string, b: string): boolean {
  return a === b || canonical(a) === canonical(b);
}

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

export interface ReportedProcess {
  pid: number;
  sessionId: string;
  startedBy: 'runner' | 'terminal';
  /** This runner's HAPI_HOME. */
  hapiHome: string;
}

/**
 * Checks, before the runner accepts a session's report (and may later signal that PID), that
 * the PID is a live hapi session process of this HAPI_HOME with that id, and not the runner
 * itself. Evidence of the id: its command line has `--hapi-session-id <id>` (every
 * runner-spawned session), or, for a terminal session, its agent (a child of it) was started
 * by it with HAPI_SESSION_ID=<id> and HAPI_SESSION_PID=<its PID> (so an agent's orphan that
 * init or a subreaper adopted proves nothing about its new parent). Returns the process's start
 * time; throws InvalidArgumentError (not such a session) or FailedPreconditionError (not running).
 */
export function verifyReportedProcess(r: ReportedProcess): string {
  const { pid, sessionId } = r;
  if (pid === process.pid) {
    throw new InvalidArgumentError(`PID ${pid} is the runner itself, not session ${sessionId}`, { pid, sessionId });
  }
  const startTime = processStartTime(pid);
  if (startTime === undefined) throw new FailedPreconditionError(`process ${pid} of session ${sessionId} is not running`, { pid, sessionId });
  // Only Linux lets us look; elsewhere the start time is all the runner keeps.
  if (process.platform !== 'linux') return startTime;

  const notOurs = (why: string) =>
    new InvalidArgumentError(`PID ${pid} is not a hapi session of this HAPI_HOME (${r.hapiHome}) with id ${sessionId}: ${why}`, { pid, sessionId });
  const env = readProcEnviron(pid);
  if (env === undefined) throw notOurs('its environment cannot be read (another user\'s process?)');
  const home = hapiHomeOfEnviron(env);
  if (!sameHome(home, r.hapiHome)) throw notOurs(`its HAPI_HOME is ${home}`);
  if (hasSessionIdArg(readProcArgv(pid) ?? [], sessionId)) return startTime;
  if (r.startedBy === 'terminal' && agentOf(pid, sessionId, r.hapiHome)) return startTime;
  throw notOurs(
    r.startedBy === 'runner'
      ? `its command line has no --hapi-session-id ${sessionId}`
      : `neither its command line nor the environment of its agent names that session`,
  );
}

function hasSessionIdArg(argv: string[], sessionId: string): boolean {
  return argv.some((a, i) => (a === '--hapi-session-id' && argv[i + 1] === sessionId) || a === `--hapi-session-id=${sessionId}`);
}

/** True when a child of `pid` was started by it as the agent of `sessionId` (of this home). */
function agentOf(pid: number, sessionId: string, hapiHome: string): boolean {
  for (const row of readProcTable().values()) {
    if (row.ppid !== pid || row.zombie) continue;
    const mark = sessionMarkOf(readProcEnviron(row.pid));
    if (mark?.sessionPid === String(pid) && mark.sessionId === sessionId && sameHome(mark.home, hapiHome)) return true;
  }
  return false;
}
