/**
 * `hapi attach [<session>] [--read-only]`: this terminal becomes one more viewer of a session of
 * this machine. Exit status as ssh has it: hapi's own codes for failures before attaching (2 bad
 * arguments or no choice made, 3 runner or session unreachable, 4 no such session), 0 after a
 * detach, the session's exit code when it ends while attached.
 */
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { attachConfig, type Env } from '../../shared/config.js';
import { InvalidArgumentError, NotFoundError, isHapiError } from '../../shared/errors.js';
import { exitCodeOfStatus } from '../../shared/exit-codes.js';
import { hapiPaths, sessionSocketPathFor } from '../../shared/paths.js';
import type { ExitStatus } from '../../contract/session-types.js';
import { endedSessionScreen, findSession, listRunnerSessions, type ListedSession, type SessionTarget } from '../session-client.js';
import { attachTerminal } from './terminal-viewer.js';
import { createSessionSocketTransport } from './transport.js';

export interface AttachCommandOptions {
  session?: string;
  readOnly: boolean;
  env?: Env;
  cwd?: string;
}

export async function runAttachCommand(o: AttachCommandOptions): Promise<number> {
  const env = o.env ?? process.env;
  const { detachKey } = attachConfig(env);
  const target = o.session !== undefined ? await findSession(o.session, env) : await chooseSession(env, o.cwd ?? process.cwd());
  if (target.ended) return showEnded(target.id, env);
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new InvalidArgumentError('hapi attach needs a terminal; from a script, use hapi screen and hapi send');
  }
  let outcome;
  try {
    outcome = await attachTerminal({ transport: createSessionSocketTransport(target.socket), readOnly: o.readOnly, detachKey });
  } catch (err) {
    // The session's process went away without a word (killed): the runner may know how it ended.
    const ended = isHapiError(err) && err.kind === 'Unavailable' ? await endedSessionScreen(target.id, env).catch(() => undefined) : undefined;
    if (!ended?.ended) throw err;
    process.stderr.write(`\n${endedLine(target.id, ended.exitStatus)}\n`);
    return ended.exitStatus ? exitCodeOfStatus(ended.exitStatus) : 1;
  }
  if (outcome.kind === 'exited') {
    process.stderr.write(`\n${endedLine(target.id, outcome.status)}\n`);
    return exitCodeOfStatus(outcome.status);
  }
  if (!outcome.hangup) process.stderr.write(`\n[detached from session ${target.id}; it keeps running. Back with: hapi attach ${target.id}]\n`);
  return 0;
}

/** How a session ended, as `hapi attach` prints it last. */
export function endedLine(id: string, status: ExitStatus | undefined): string {
  if (!status) return `[session ${id} ended]`;
  return `[session ${id} ended: ${status.exitSignal ? `killed by ${status.exitSignal}` : `exit code ${exitCodeOfStatus(status)}`}]`;
}

/**
 * An ended session the runner keeps: its final screen (the visible rows, without terminal modes,
 * so it stays in the terminal's output) and how it ended; the exit code is the session's.
 */
async function showEnded(id: string, env: Env): Promise<number> {
  const ended = await endedSessionScreen(id, env);
  if (ended.screen) process.stdout.write(`${ended.screen.ansi}\x1b[0m\n`);
  process.stderr.write(`${endedLine(id, ended.exitStatus)}\n`);
  return ended.exitStatus ? exitCodeOfStatus(ended.exitStatus) : 1;
}

/** Live sessions with a terminal to reach: the runner's, or without a runner the sockets in $HAPI_HOME. */
async function attachableSessions(env: Env): Promise<ListedSession[]> {
  const home = hapiPaths(env).home;
  const listed = await listRunnerSessions(env);
  if (listed.length > 0) return listed.filter((s) => existsSync(sessionSocketPathFor(home, s.id, env)));
  let names: string[] = [];
  try {
    names = readdirSync(join(home, 'sessions')).filter((n) => n.endsWith('.sock'));
  } catch {
    // No session ever served a terminal here.
  }
  return names.map((n) => ({ id: n.slice(0, -'.sock'.length), pid: 0, directory: '', agent: '', ended: false }));
}

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The single live session in `cwd`; else the person picks one (a TTY), else the list and exit 2. */
async function chooseSession(env: Env, cwd: string): Promise<SessionTarget> {
  const home = hapiPaths(env).home;
  const sessions = await attachableSessions(env);
  if (sessions.length === 0) throw new NotFoundError('no live session to attach to on this machine (see `hapi runner list`)');
  const here = sessions.filter((s) => s.directory && canonical(s.directory) === canonical(cwd));
  const target = (s: ListedSession): SessionTarget => ({ id: s.id, ended: false, socket: sessionSocketPathFor(home, s.id, env) });
  if (here.length === 1) return target(here[0]!);
  const list = sessions.map((s, i) => `  ${i + 1}) ${s.id}${s.agent ? `  ${s.agent}` : ''}${s.directory ? `  ${s.directory}` : ''}${s.startedAt ? `  started ${s.startedAt.toLocaleString()}` : ''}`).join('\n');
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    process.stdout.write(`${list}\n`);
    throw new InvalidArgumentError(`${here.length > 1 ? 'several live sessions here' : 'no single live session here'}; name one: hapi attach <session>`);
  }
  process.stderr.write(`Live sessions:\n${list}\n`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await prompt.question(`Attach to [1-${sessions.length}]: `)).trim();
    const chosen = /^\d+$/.test(answer) ? sessions[Number(answer) - 1] : undefined;
    if (!chosen) throw new InvalidArgumentError(`no session ${JSON.stringify(answer)} in the list`);
    return target(chosen);
  } finally {
    prompt.close();
  }
}
