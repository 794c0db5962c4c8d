/**
 * The session's socket listens from the first milliseconds, before the gRPC server exists.
 *
 * Loading grpc-js and the screen model costs a session some 60 ms; the runner's spawn waits for
 * the session's report, so they load after it. A viewer that connects right after the spawn
 * returns must still be served: a plain listener (node:net, nothing to load) holds the path
 * and keeps the connections it accepts, paused; once the gRPC server listens on a private
 * name in the same directory, that socket is renamed over the session's path (atomic: every
 * later connection reaches the server, none is refused), and the held connections are
 * forwarded to it byte for byte.
 *
 * Both listeners bind to temporary names and are renamed into place: Node unlinks a Unix
 * socket's bound name when it closes, which must never be the session's path.
 */
import { renameSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { Env } from '../../shared/config.js';
import { MAX_SOCKET_PATH_BYTES } from '../../shared/paths.js';
import { listenPrivately, prepareSocketPath } from '../../runner/control-socket.js';

/** How long the early listener keeps accepting after the handover: connections in its backlog. */
const BACKLOG_DRAIN_MS = 200;

export interface EarlyListener {
  readonly path: string;
  /**
   * Moves the socket of the real server (listening at `servingPath`, see `handoverPath`) onto
   * the session's path and forwards the connections held so far to it.
   */
  handOver(servingPath: string): void;
  /** Stops listening (the path is left to the caller) and drops held connections. */
  close(): void;
}

/**
 * A private name next to `socketPath` for a listener to bind before it is renamed into place;
 * undefined when it would be too long for the OS (then bind `socketPath` directly).
 */
export function handoverPath(socketPath: string, tag: string): string | undefined {
  const path = join(dirname(socketPath), `.${basename(socketPath).slice(0, 8)}-${tag}${process.pid.toString(36)}`);
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES ? path : undefined;
}

/**
 * Listens on `socketPath` (0600) and holds connections until `handOver`. Throws like the
 * runner's socket preparation (a live process serves there, a bad directory); undefined when
 * the path leaves no room for a temporary name.
 */
export async function listenEarly(socketPath: string, env: Env): Promise<EarlyListener | undefined> {
  const tmp = handoverPath(socketPath, 'e');
  if (tmp === undefined) return undefined;
  await prepareSocketPath(socketPath, env);
  rmSync(tmp, { force: true });
  const held = new Set<Socket>();
  let target: string | undefined;
  const forward = (client: Socket) => {
    const upstream = connect(target!);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      held.delete(client);
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
    client.pipe(upstream).pipe(client);
  };
  const server = createServer({ pauseOnConnect: true }, (client) => {
    held.add(client);
    client.on('error', () => held.delete(client));
    if (target) forward(client);
  });
  await listenPrivately(tmp, () => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tmp, () => {
      server.off('error', reject);
      resolve();
    });
  }));
  try {
    renameSync(tmp, socketPath);
  } catch (err) {
    server.close();
    throw err;
  }
  server.on('error', () => {
    // After listen, only accept errors (EMFILE...): that client is refused, the rest goes on.
  });
  let drain: NodeJS.Timeout | undefined;
  return {
    path: socketPath,
    handOver(servingPath) {
      renameSync(servingPath, socketPath);
      target = socketPath;
      for (const client of held) forward(client);
      // Nothing new reaches this listener once the path is renamed over; what connected just
      // before is still in its backlog and is accepted (and forwarded) on the next loop turns.
      drain = setTimeout(() => server.close(), BACKLOG_DRAIN_MS);
    },
    close() {
      clearTimeout(drain);
      server.close();
      for (const client of held) client.destroy();
      held.clear();
    },
  };
}
