/**
 * The client side of a session's terminal socket, for short CLI commands (`hapi screen`,
 * `hapi send`): finds the session's socket from an id, a unique id prefix or `PID-<n>`, and
 * makes unary calls with the node:http2 client (no grpc-js in the CLI's hot bundle).
 */
import { existsSync } from 'node:fs';
import { ClientError, Status } from 'nice-grpc-common';
import { SessionServiceDefinition } from '../contract/session.js';
import { isValidSessionId } from '../contract/types.js';
import { clientConfig, type Env } from '../shared/config.js';
import { DeadlineExceededError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError, isHapiError } from '../shared/errors.js';
import { fromClientError } from '../shared/grpc-errors.js';
import { createUnaryClient, type UnaryClient } from '../shared/grpc-unary-client.js';
import { hapiPaths, sessionSocketPathFor } from '../shared/paths.js';
import { withRunner } from '../runner/client/connect.js';

export type SessionClient = UnaryClient<typeof SessionServiceDefinition>;

/** A live session of this machine whose terminal can be reached. */
export interface SessionTarget {
  id: string;
  socket: string;
}

/** The socket of a session of this machine. NotFound when no session matches `ref`. */
export async function findSessionSocket(ref: string, env: Env = process.env): Promise<string> {
  return (await findSession(ref, env)).socket;
}

/**
 * The session `ref` names: an id, a unique id prefix or `PID-<n>`. NotFound when none matches,
 * InvalidArgument when a prefix matches several, FailedPrecondition when it has no terminal.
 */
export async function findSession(ref: string, env: Env = process.env): Promise<SessionTarget> {
  const home = hapiPaths(env).home;
  if (isValidSessionId(ref)) {
    const exact = sessionSocketPathFor(home, ref, env);
    if (existsSync(exact)) return { id: ref, socket: exact };
  }
  // Not an exact id with a socket: ask the runner for prefixes and PIDs.
  const sessions = await listRunnerSessions(env);
  const pid = /^PID-(\d+)$/.exec(ref);
  const matches = pid ? sessions.filter((s) => s.pid === Number(pid[1])) : sessions.filter((s) => s.id.startsWith(ref));
  if (matches.length > 1) throw new InvalidArgumentError(`'${ref}' matches ${matches.length} sessions; give more of the id`);
  const match = matches[0];
  if (!match) throw new NotFoundError(`no session '${ref}' on this machine (see \`hapi runner list\`)`);
  const socket = sessionSocketPathFor(home, match.id, env);
  if (!existsSync(socket)) throw new FailedPreconditionError(`session ${match.id} has no terminal to reach (it was started without a terminal, from a script or a pipe, or by an older hapi)`);
  return { id: match.id, socket };
}

export interface ListedSession {
  id: string;
  pid: number;
  directory: string;
  agent: string;
  startedAt?: Date;
}

/** The runner's live sessions; none when no runner answers. */
export async function listRunnerSessions(env: Env = process.env): Promise<ListedSession[]> {
  try {
    return (await withRunner((c, signal) => c.listSessions({}, { signal }), { env })).sessions;
  } catch (err) {
    if (!isHapiError(err) || err.kind !== 'Unavailable') throw err;
    return [];
  }
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
