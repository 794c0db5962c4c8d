/**
 * The client side of a session's terminal socket, for short CLI commands (`hapi screen`,
 * `hapi send`, `hapi attach`): finds the session's socket from an id, a unique id prefix or
 * `PID-<n>` (or learns from the runner that it has ended), and makes unary calls with the
 * node:http2 client (no grpc-js in the CLI's hot bundle).
 */
import { existsSync } from 'node:fs';
import { ClientError, Status } from 'nice-grpc-common';
import { SessionServiceDefinition } from '../contract/session.js';
import { sessionScreenFromProto } from '../contract/runner.js';
import { sessionStateFromProto } from '../contract/common.js';
import type { ExitStatus } from '../contract/session-types.js';
import { isValidSessionId, type SessionScreenInfo } from '../contract/types.js';
import { clientConfig, type Env } from '../shared/config.js';
import { DeadlineExceededError, FailedPreconditionError, NotFoundError, UnavailableError, isHapiError } from '../shared/errors.js';
import { fromClientError } from '../shared/grpc-errors.js';
import { createUnaryClient, type UnaryClient } from '../shared/grpc-unary-client.js';
import { hapiPaths, sessionSocketPathFor } from '../shared/paths.js';
import { pickSession } from '../shared/targets.js';
import { withRunner } from '../runner/client/connect.js';

export type SessionClient = UnaryClient<typeof SessionServiceDefinition>;

/** A session of this machine: live with a terminal to reach, or ended and kept by the runner. */
export type SessionTarget = { id: string; ended: false; socket: string } | { id: string; ended: true };

/** The socket of a live session of this machine. NotFound when no session matches `ref`. */
export async function findSessionSocket(ref: string, env: Env = process.env): Promise<string> {
  const target = await findSession(ref, env);
  if (target.ended) throw new FailedPreconditionError(`session ${target.id} has ended (see \`hapi screen ${target.id}\` for how)`);
  return target.socket;
}

/**
 * The session `ref` names: an id, a unique id prefix or `PID-<n>`, among the live sessions and
 * the ended ones the runner keeps. NotFound when none matches, InvalidArgument when a prefix
 * matches several, FailedPrecondition for a live session without a terminal.
 */
export async function findSession(ref: string, env: Env = process.env): Promise<SessionTarget> {
  const home = hapiPaths(env).home;
  if (isValidSessionId(ref)) {
    const exact = sessionSocketPathFor(home, ref, env);
    if (existsSync(exact)) return { id: ref, ended: false, socket: exact };
  }
  // Not an exact id with a socket: ask the runner for prefixes, PIDs and ended sessions.
  const sessions = await listRunnerSessions(env, { includeEnded: true });
  const pid = /^PID-(\d+)$/.exec(ref);
  // The one session resolver (shared/targets.ts): an id, or a prefix unique among the live
  // sessions (else among the ended ones); ambiguous lists the candidates.
  const match = pid
    ? sessions.find((s) => s.pid === Number(pid[1]) && !s.ended)
    : pickSession(sessions.map((s) => ({ ...s, machineId: '', live: !s.ended, label: sessionLabel(s) })), ref);
  if (!match) throw new NotFoundError(`no session '${ref}' on this machine (see \`hapi runner list --all\`)`, { session: ref });
  if (match.ended) return { id: match.id, ended: true };
  const socket = sessionSocketPathFor(home, match.id, env);
  if (!existsSync(socket)) throw new FailedPreconditionError(`session ${match.id} has no terminal to reach (it was started without a terminal, from a script or a pipe, or by an older hapi)`);
  return { id: match.id, ended: false, socket };
}

/** How a candidate reads in an "ambiguous" error: `running, pid 123, /home/me/app`. */
function sessionLabel(s: ListedSession): string {
  return `${s.ended ? 'ended' : 'running'}, pid ${s.pid}, ${s.directory}`;
}

export interface ListedSession {
  id: string;
  pid: number;
  directory: string;
  agent: string;
  startedAt?: Date;
  ended: boolean;
}

/** The runner's sessions (live ones first); none when no runner answers. */
export async function listRunnerSessions(env: Env = process.env, opts: { includeEnded?: boolean } = {}): Promise<ListedSession[]> {
  try {
    const r = await withRunner((c, signal) => c.listSessions({ includeEnded: opts.includeEnded === true }, { signal }), { env });
    return r.sessions.map((s) => ({ id: s.id, pid: s.pid, directory: s.directory, agent: s.agent, startedAt: s.startedAt, ended: sessionStateFromProto(s.state) === 'ended' }));
  } catch (err) {
    if (!isHapiError(err) || err.kind !== 'Unavailable') throw err;
    return [];
  }
}

/** How an ended session ended, as the runner keeps it (its final screen, when it was received). */
export async function endedSessionScreen(id: string, env: Env = process.env): Promise<SessionScreenInfo> {
  return sessionScreenFromProto(await withRunner((c, signal) => c.getSessionScreen({ sessionId: id }, { signal }), { env }));
}

/** Runs one call on the session's socket with the client timeout, failures as domain errors. */
export async function callSession<T>(ref: string, fn: (client: SessionClient, signal: AbortSignal) => Promise<T>, env: Env = process.env): Promise<T> {
  const socket = await findSessionSocket(ref, env);
  const timeoutMs = clientConfig(env).httpTimeoutMs;
  const { client, channel } = createUnaryClient(SessionServiceDefinition, socket);
  try {
    return await fn(client, AbortSignal.timeout(timeoutMs));
  } catch (err) {
    if (err instanceof ClientError && err.code === Status.UNAVAILABLE) throw new UnavailableError(`session '${ref}' is not answering on ${socket} (it may have just ended)`);
    if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
      throw new DeadlineExceededError(`session '${ref}' did not answer within ${timeoutMs} ms (HAPI_RUNNER_HTTP_TIMEOUT)`);
    }
    throw fromClientError(err);
  } finally {
    channel.close();
  }
}

/** A session's visible screen; for an ended session the runner keeps, its final one and how it ended. */
export interface SessionScreen {
  id: string;
  /** Undefined: an ended session whose final screen the runner never received. */
  screen?: { text: string; ansi: string };
  /** Set once the session has ended. */
  ended?: { exitStatus?: ExitStatus };
}

export async function sessionScreen(ref: string, env: Env = process.env): Promise<SessionScreen> {
  const target = await findSession(ref, env);
  if (target.ended) {
    const kept = await endedSessionScreen(target.id, env);
    return { id: target.id, screen: kept.screen, ended: { exitStatus: kept.exitStatus } };
  }
  const screen = await callSession(target.id, (c, signal) => c.getScreen({}, { signal }), env);
  return { id: target.id, screen };
}
