/**
 * Telling the processes of a hapi session apart from any other process, from what the OS says
 * about them (/proc): a session's agent and everything it starts carry `HAPI_SESSION_ID=<id>`
 * in their environment (set by the session process), and every process of a HAPI_HOME has that
 * HAPI_HOME (explicitly, or by default from its HOME). Linux only; elsewhere nothing matches.
 */
import { homedir } from 'node:os';
import { resolveHapiHome } from '../../shared/paths.js';
import { readProcEnviron } from '../../shared/proc.js';

/** The environment variable a session passes to its agent (and the agent to its children). */
export const SESSION_ID_ENV = 'HAPI_SESSION_ID';

/** The HAPI_HOME a process of this environment uses. */
export function hapiHomeOfEnviron(env: Map<string, string>): string {
  return resolveHapiHome({ HAPI_HOME: env.get('HAPI_HOME') }, env.get('HOME') || homedir());
}

/** True when `pid` was started with HAPI_SESSION_ID=<sessionId> and belongs to `hapiHome`. */
export function carriesSession(pid: number, sessionId: string, hapiHome: string): boolean {
  const env = readProcEnviron(pid);
  return env !== undefined && env.get(SESSION_ID_ENV) === sessionId && hapiHomeOfEnviron(env) === hapiHome;
}
