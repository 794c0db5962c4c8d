/**
 * The session log: every raw output byte of the agent, appended to the file the runner opened
 * as the session process's stdout (`<logs>/sessions/<id>.log`, 0600, opened for appending).
 *
 * It is capped: once it reaches `maxBytes`, its content is copied to `<id>.log.1` (replacing
 * the previous one) and the file is truncated in place (logrotate's copytruncate). The file
 * cannot be renamed and reopened instead: stdout and stderr of this process (its own notes)
 * point at it, and Node cannot re-point a descriptor. Truncating works because the runner
 * opened it with O_APPEND: the next write lands at the new end. So a flood costs at most twice
 * `maxBytes` of disk, never more.
 */
import { copyFileSync, fstatSync, ftruncateSync, statSync, writeSync } from 'node:fs';

export interface SessionLog {
  write(data: Uint8Array): void;
  /** Writes what `batch` held back (also done when the process exits). */
  flush(): void;
  /** Bytes written since the last rotation (what the file holds, give or take our notes). */
  readonly size: number;
  /** Times the log was rotated. */
  readonly rotations: number;
}

export interface SessionLogOptions {
  /** The descriptor to write to (1: stdout). */
  fd: number;
  /** The file's path, to copy it aside when it is full; checked to be the descriptor's file. */
  path: string;
  maxBytes: number;
  /** Told once when writing fails (a full disk); writing goes on with the next output. */
  onError?: (err: unknown) => void;
  /** How to write when `fd` is not a regular file (default: process.stdout, which buffers). */
  writeOther?: (data: Uint8Array) => void;
  /**
   * Gathers output into writes of up to BATCH_BYTES, written when full or at the end of the
   * event loop's turn (a flood arrives as 4 KiB reads: one write each cost the session a fifth
   * of its time). What is held is written at exit too; a kill -9 loses at most one turn's worth
   * from the log (never from viewers: the ring has it).
   */
  batch?: boolean;
}

/** The largest write of a batching log. */
export const BATCH_BYTES = 64 * 1024;

/**
 * Writes to `fd`. A descriptor that is not a regular file (a pipe or a terminal, when a person
 * runs the session process by hand) is written to as is, without a cap. A file that is not the
 * one at `path` is capped by truncation alone.
 */
export function createSessionLog(o: SessionLogOptions): SessionLog {
  let size = 0;
  let rotations = 0;
  let isFile = false;
  let copyAside = false;
  let failed = false;
  try {
    const own = fstatSync(o.fd);
    isFile = own.isFile();
    if (isFile) {
      size = own.size;
      const named = statSync(o.path, { throwIfNoEntry: false });
      copyAside = named !== undefined && named.ino === own.ino && named.dev === own.dev;
    }
  } catch {
    // Not a descriptor we can inspect: write to it as a stream.
  }
  if (!isFile) {
    const writeOther = o.writeOther ?? ((d: Uint8Array) => void process.stdout.write(d));
    return { write: writeOther, flush: () => {}, size: 0, rotations: 0 };
  }

  function rotate(): void {
    // Our own notes (stderr) went to the same file: take its real size, not our count.
    if (fstatSync(o.fd).size < o.maxBytes) {
      size = fstatSync(o.fd).size;
      return;
    }
    if (copyAside) copyFileSync(o.path, `${o.path}.1`);
    ftruncateSync(o.fd, 0);
    size = 0;
    rotations++;
  }

  function writeNow(data: Uint8Array): void {
    try {
      let at = 0;
      while (at < data.length) at += writeSync(o.fd, data, at, data.length - at);
      size += data.length;
      if (size >= o.maxBytes) rotate();
      failed = false;
    } catch (err) {
      // EAGAIN on a non-blocking pipe, ENOSPC...: the log is best effort; the terminal is not.
      if (!failed) o.onError?.(err);
      failed = true;
    }
  }

  const held = o.batch ? Buffer.allocUnsafe(BATCH_BYTES) : undefined;
  let heldBytes = 0;
  let flushQueued = false;
  function flush(): void {
    flushQueued = false;
    if (heldBytes === 0) return;
    const data = held!.subarray(0, heldBytes);
    heldBytes = 0;
    writeNow(data);
  }
  if (held) process.on('exit', flush);

  return {
    write(data) {
      if (!held) return writeNow(data);
      if (heldBytes + data.length > BATCH_BYTES) flush();
      if (data.length >= BATCH_BYTES) return writeNow(data);
      held.set(data, heldBytes);
      heldBytes += data.length;
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    },
    flush,
    get size() {
      return size;
    },
    get rotations() {
      return rotations;
    },
  };
}
