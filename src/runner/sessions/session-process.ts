/**
 * Telling the processes of a hapi session apart from any other process, from what the OS says
 * about them (/proc): a session's agent and everything it starts carry `HAPI_SESSION_ID=<id>`
 * in their environment (set by the session process), and every process of a HAPI_HOME has that
 * HAPI_HOME (explicitly, or by default from its HOME). Linux only; elsewhere nothing matches.
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '../../shared/errors.js';
import { resolveHapiHome } from '../../shared/paths.js';
import { processStartTime, readProcArgv, readProcEnviron, readProcTable } from '../../shared/proc.js';

/** The environment variables a session passes to its agent (and the agent to its children). */
export const SESSION_ID_ENV = 'HAPI_SESSION_ID';
export const SESSION_PID_ENV = 'HAPI_SESSION_PID';

/** The HAPI_HOME a process of this environment uses. */
export function hapiHomeOfEnviron(env: Map<string, string>): string {
  return resolveHapiHome({ HAPI_HOME: env.get('HAPI_HOME') }, env.get('HOME') || homedir());
}

/** True when `pid` was started with HAPI_SESSION_ID=<sessionId> and belongs to `hapiHome`. */
export function carriesSession(pid: number, sessionId: string, hapiHome: string): boolean {
  const env = readProcEnviron(pid);
  return env !== undefined && env.get(SESSION_ID_ENV) === sessionId && sameHome(hapiHomeOfEnviron(env), hapiHome);
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
    const env = readProcEnviron(row.pid);
    if (env?.get(SESSION_PID_ENV) === String(pid) && env.get(SESSION_ID_ENV) === sessionId && sameHome(hapiHomeOfEnviron(env), hapiHome)) return true;
  }
  return false;
}

