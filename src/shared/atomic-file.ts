/**
 * Durable small files: write to a temp file in the same directory, fsync, rename over the
 * target, fsync the directory. Readers see the old or the new content, never a truncated one.
 *
 * Every write is checked for its count (a short write, as on a nearly full disk, is continued
 * or fails; it never stores a prefix). A full disk (ENOSPC, or EDQUOT for a quota) fails loudly
 * with a DiskFullError (RESOURCE_EXHAUSTED, HTTP 507) that says "disk full", and the previous file stays untouched.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DiskFullError, errnoCode } from './errors.js';

/** ENOSPC (no space left on the device) or EDQUOT (the user's quota is used up). */
export function isDiskFull(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** A write error as the caller should see it: disk full becomes a DiskFullError (RESOURCE_EXHAUSTED). */
export function writeError(path: string, err: unknown): unknown {
  if (!isDiskFull(err)) return err;
  return new DiskFullError(`disk full: cannot write ${path} (${errnoCode(err)}); free some space and retry`, {
    path,
    errno: errnoCode(err),
  });
}

/** Writes all of `buf`, continuing after short writes; a write that makes no progress fails. */
export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    const n = writeSync(fd, buf, off, buf.length - off);
    if (n <= 0) throw Object.assign(new Error(`short write (${off} of ${buf.length} bytes)`), { code: 'ENOSPC' });
    off += n;
  }
}

/** Makes a rename or a new directory entry in `dir` durable. */
export function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (err) {
    // Some file systems cannot fsync a directory; the rename is as durable as they allow.
    if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'ENOTSUP') throw err;
  } finally {
    closeSync(fd);
  }
}

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes `data` to a new temp file next to `path`, fsynced; removes it on any failure. */
function writeTemp(path: string, data: string, mode: number): string {
  const tmp = tempPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', mode);
    writeAll(fd, Buffer.from(data, 'utf8'));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    return tmp;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw writeError(path, err);
  }
}

export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = writeTemp(path, data, mode);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw writeError(path, err);
  }
  fsyncDir(dir);
}

/**
 * Creates `path` with the whole of `data` only if it does not exist yet (O_EXCL); false if it
 * does. A failed write (e.g. disk full) removes the file again, so no half-written file is
 * left. Readers may see it empty for a moment while it is written (the runner lock allows
 * for that); no hard link is needed, so it works on every file system.
 */
export function createFileExclusive(path: string, data: string, mode = 0o600): boolean {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw writeError(path, err);
  }
  try {
    writeAll(fd, Buffer.from(data, 'utf8'));
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw writeError(path, err);
  }
  closeSync(fd);
  fsyncDir(dir);
  return true;
}

export function writeJsonAtomic(path: string, value: unknown, mode = 0o600): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}

export type JsonRead<T> = { ok: true; value: T } | { ok: false; reason: 'missing' | 'corrupt'; error?: string };

/** Reads and parses a JSON file; a missing, truncated or corrupt file is a value, not a throw. */
export function readJsonFile<T = unknown>(path: string): JsonRead<T> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return { ok: false, reason: 'missing' };
    return { ok: false, reason: 'corrupt', error: String(err) };
  }
  try {
    return { ok: true, value: JSON.parse(text) as T };
  } catch (err) {
    return { ok: false, reason: 'corrupt', error: (err as Error).message };
  }
}

/** mkdir -p with mode 0700, and tighten the mode if the directory already existed. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}
