/**
 * Safe preparation of the runner's Unix socket: reject too-long paths, create the directory
 * 0700, never unlink a socket that a live process still answers on, unlink a stale one, and
 * make the new socket 0600 (umask around listen, chmod after).
 */
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { errnoCode, FailedPreconditionError, InvalidArgumentError } from '../shared/errors.js';
import { MAX_SOCKET_PATH_BYTES } from '../shared/paths.js';

/** Resolves true when something accepts connections on the socket. */
export function probeSocket(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(true); // accepted but slow: treat as live, never unlink it
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export async function prepareSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new InvalidArgumentError(`socket path ${path} is longer than the OS limit of ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter HAPI_HOME`);
  }
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  let exists = false;
  try {
    exists = statSync(path) !== undefined;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  if (!exists) return;
  if (await probeSocket(path)) {
    throw new FailedPreconditionError(`another process is serving on ${path}; not replacing a live socket`);
  }
  rmSync(path, { force: true });
}

/** Runs `listen` with a umask that makes the socket 0600, then enforces the mode. */
export async function listenPrivately<T>(path: string, listen: () => Promise<T>): Promise<T> {
  const old = process.umask(0o177);
  try {
    return await listen();
  } finally {
    process.umask(old);
    try {
      chmodSync(path, 0o600);
    } catch {
      // listen failed; nothing to chmod
    }
  }
}
