/**
 * Connecting to the runner: the client side owns connection errors and turns "cannot connect"
 * into "is the runner running? try `hapi runner start`". Used by the CLI commands and by
 * session processes.
 */
import { existsSync } from 'node:fs';
import { ClientError, Status } from 'nice-grpc-common';
import { RunnerServiceDefinition, type GetStatusResponse } from '../../contract/runner.js';
import { clientConfig, type Env } from '../../shared/config.js';
import { DeadlineExceededError, UnavailableError, isHapiError } from '../../shared/errors.js';
import { fromClientError } from '../../shared/grpc-errors.js';
import { createUnaryClient, type UnaryClient } from '../../shared/grpc-unary-client.js';
import { hapiPaths, type HapiPaths } from '../../shared/paths.js';

export const NOT_RUNNING_HINT = 'runner is not running; start it with `hapi runner start`';

/** The runner's unary RPCs (the CLI never needs the streaming ones). */
export type RunnerClient = UnaryClient<typeof RunnerServiceDefinition>;

export interface RunnerConnection {
  client: RunnerClient;
  socketPath: string;
  timeoutMs: number;
  /** Runs one call with the configured timeout and maps failures to domain errors. */
  call<T>(fn: (client: RunnerClient, signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T>;
  close(): void;
}

function mapCallError(err: unknown, timeoutMs: number): unknown {
  if (err instanceof ClientError) {
    if (err.code === Status.UNAVAILABLE && !/starting|shutting/.test(err.details)) return new UnavailableError(NOT_RUNNING_HINT);
    if (err.code === Status.DEADLINE_EXCEEDED || err.code === Status.CANCELLED) {
      return new DeadlineExceededError(`runner did not answer within ${timeoutMs} ms (HAPI_RUNNER_HTTP_TIMEOUT)`);
    }
    return fromClientError(err);
  }
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new DeadlineExceededError(`runner did not answer within ${timeoutMs} ms (HAPI_RUNNER_HTTP_TIMEOUT)`);
  }
  return err;
}

/** Connects to the runner's socket. Throws UnavailableError when no runner listens there. */
export function connectRunner(opts: { env?: Env; timeoutMs?: number; paths?: HapiPaths } = {}): RunnerConnection {
  const env = opts.env ?? process.env;
  const paths = opts.paths ?? hapiPaths(env);
  const timeoutMs = opts.timeoutMs ?? clientConfig(env).httpTimeoutMs;
  if (!existsSync(paths.socket)) throw new UnavailableError(NOT_RUNNING_HINT);
  const { client, channel } = createUnaryClient(RunnerServiceDefinition, paths.socket);
  return {
    client,
    socketPath: paths.socket,
    timeoutMs,
    async call(fn, ms = timeoutMs) {
      try {
        return await fn(client, AbortSignal.timeout(ms));
      } catch (err) {
        throw mapCallError(err, ms);
      }
    },
    close: () => channel.close(),
  };
}

/** One call on a fresh connection, closed afterwards. */
export async function withRunner<T>(fn: (client: RunnerClient, signal: AbortSignal) => Promise<T>, opts: { env?: Env; timeoutMs?: number } = {}): Promise<T> {
  const conn = connectRunner(opts);
  try {
    return await conn.call(fn);
  } finally {
    conn.close();
  }
}

/**
 * Status of the running runner, or undefined when none answers within `timeoutMs`. A socket
 * file nobody listens on fails the connect at once (ECONNREFUSED -> Unavailable), so there is
 * no separate connect probe first: that cost a second connection on every command.
 */
export async function probeRunner(paths: HapiPaths, timeoutMs: number): Promise<GetStatusResponse | undefined> {
  if (!existsSync(paths.socket)) return undefined;
  const conn = connectRunner({ paths, timeoutMs });
  try {
    return await conn.call((c, signal) => c.getStatus({}, { signal }));
  } catch (err) {
    if (isHapiError(err) && (err.kind === 'Unavailable' || err.kind === 'DeadlineExceeded')) return undefined;
    throw err;
  } finally {
    conn.close();
  }
}
