/**
 * The session's socket listens from the first milliseconds, before the gRPC server exists.
 *
 * Loading the gRPC server and the screen model costs a session some 60 ms; the runner's spawn
 * waits for the session's report, so they load after it. A viewer that connects right after the
 * spawn returns must still be served: a plain listener (node:net, nothing to load) holds the
 * path and keeps the connections it accepts, paused. Once the server exists, the listener hands
 * it the connections it held and every later one, for the session's life (the HTTP/2 server
 * serves a connection accepted elsewhere as its own). Nothing is relayed byte by byte: the
 * runner and `hapi` connect right after a spawn, and their attach streams (every output byte)
 * used to pass through a pipe in this process for as long as they lasted.
 *
 * The listener binds a temporary name and is renamed into place (atomic: a stale socket at
 * the path is replaced, and Node's unlinking of the bound name when it closes never removes
 * the session's path).
 */
import { renameSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { Env } from '../../shared/config.js';
import { MAX_SOCKET_PATH_BYTES } from '../../shared/paths.js';
import { listenPrivately, prepareSocketPath } from '../../runner/control-socket.js';

export interface EarlyListener {
  readonly path: string;
  /** Hands the connections held so far, and every later one, to the server (`accept`). */
  serve(accept: (socket: Socket) => void): void;
  /** Stops listening (the path is left to the caller) and drops connections still held. */
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
  let accept: ((socket: Socket) => void) | undefined;
  const server = createServer({ pauseOnConnect: true }, (client) => {
    if (accept) return accept(client);
    held.add(client);
    client.on('error', () => held.delete(client));
    client.on('close', () => held.delete(client));
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
  return {
    path: socketPath,
    serve(serverAccept) {
      accept = serverAccept;
      for (const client of held) serverAccept(client);
      held.clear();
    },
    close() {
      server.close();
      for (const client of held) client.destroy();
      held.clear();
    },
  };
}
