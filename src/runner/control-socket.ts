/**
 * Safe preparation of the runner's Unix socket: reject too-long paths, create the directory
 * 0700, never unlink a socket that a live process still answers on, unlink a stale one, and
 * make the new socket 0600 (umask around listen, chmod after). The fallback directory in a
 * shared place (/tmp/hapi-<uid>) must be ours, is made private, and is never a symlink.
 */
import { chmodSync, closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { errnoCode, FailedPreconditionError, InvalidArgumentError } from '../shared/errors.js';
import type { Env } from '../shared/config.js';
import { isRuntimeSocketPath, MAX_SOCKET_PATH_BYTES } from '../shared/paths.js';

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

export async function prepareSocketPath(path: string, env: Env = process.env): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new InvalidArgumentError(`socket path ${path} is longer than the OS limit of ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter HAPI_HOME`);
  }
  const dir = dirname(path);
  if (isRuntimeSocketPath(path, env)) {
    ensurePrivateSharedDir(dir);
  } else {
    // $HAPI_HOME: the user's own directory (a symlink there is the user's choice).
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
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

/**
 * A directory of ours in a place other users can write to (/tmp): created 0700 if missing;
 * refused when it is a symlink, not a directory, or owned by another user (who could read or
 * replace our socket there); a loose mode of our own directory is fixed to 0700. The checks and
 * the chmod go through one descriptor opened without following symlinks, so nothing can be
 * swapped in between.
 */
export function ensurePrivateSharedDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    // With O_DIRECTORY, Linux reports a symlink as ENOTDIR rather than ELOOP.
    if (code === 'ELOOP' || (code === 'ENOTDIR' && isSymlink(dir))) {
      throw new FailedPreconditionError(`${dir} is a symbolic link; the runner's socket directory must be a real directory. Remove it (\`rm ${dir}\`) and start again`, { directory: dir });
    }
    if (code === 'ENOTDIR') {
      throw new FailedPreconditionError(`${dir} is not a directory; remove it and start again`, { directory: dir });
    }
    throw err;
  }
  try {
    const st = fstatSync(fd);
    const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
    if (st.uid !== uid) {
      throw new FailedPreconditionError(
        `${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}), who could read or replace the runner's socket there; ` +
          `have it removed (\`sudo rm -rf ${dir}\`), or set XDG_RUNTIME_DIR to a private directory, or use a shorter HAPI_HOME so the socket fits in it`,
        { directory: dir, owner: st.uid },
      );
    }
    if ((st.mode & 0o7777) !== 0o700) fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
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
