/**
 * The session log: every raw output byte of the agent, appended to the file the runner opened
 * as the session process's stdout (`<logs>/sessions/<id>.log`, 0600, opened for appending).
 *
 * It is capped: once it reaches `maxBytes`, its content is copied to `<id>.log.1` (replacing
 * the previous one) and the file is truncated in place (logrotate's copytruncate). The file
 * cannot be renamed and reopened instead: stdout and stderr of this process (its own notes)
 * point at it, and Node cannot re-point a descriptor. Truncating works because the runner
 * opened it with O_APPEND: the next write lands at the new end. So a flood costs at most twice
 * `maxBytes` of disk (and a batch of BATCH_BYTES, when batching), never more. (A note of this process written between the copy and the
 * truncation of a rotation is lost with the truncated file.)
 */
import { copyFile, copyFileSync, fstat, fstatSync, ftruncate, ftruncateSync, statSync, write, writeSync } from 'node:fs';

export interface SessionLog {
  write(data: Uint8Array): void;
  /** Writes what `batch` held back and queued, at once (also done when the process exits). */
  flush(): void;
  /** Bytes held or queued and not written yet (batching). */
  readonly queued?: number;
  /** Resolves once everything written so far is on the file (batching). */
  drained?(): Promise<void>;
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
   * Gathers output into writes of up to BATCH_BYTES, queued when full or BATCH_MS after the
   * first byte held, and written on libuv's thread pool, one at a time, in order (a flood arrives
   * as 4 KiB reads, one per turn of the event loop: writing them on the thread that reads the
   * PTY cost the session a third of its time, rotations included). Rotation happens between two
   * writes, off the thread too. What is held and queued is written at exit (synchronously); a
   * kill -9 loses what was held or queued from the log (never from viewers: the ring has it).
   */
  batch?: boolean;
  /**
   * Batching: more than `maxQueuedBytes` (default MAX_QUEUED_BYTES) waiting for a slow disk:
   * `true`, and reading should pause; `false` once half of it was written.
   */
  onPressure?: (full: boolean) => void;
  maxQueuedBytes?: number;
}

/** The largest write of a batching log. */
export const BATCH_BYTES = 64 * 1024;
/** Written batches kept for reuse. */
const SPARE_BATCHES = 4;
/** How long a batching log holds output before writing it. */
export const BATCH_MS = 10;
/** Output a batching log lets wait for the disk before it asks for reading to pause. */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

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

  if (!o.batch) {
    return {
      write: writeNow,
      flush: () => {},
      get size() {
        return size;
      },
      get rotations() {
        return rotations;
      },
    };
  }

  // Batching: output gathers in `held`; full batches queue for writing on libuv's thread pool,
  // one write at a time and in order, so the thread that reads the PTY never waits for the disk.
  let held: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  let heldBytes = 0;
  /**
   * Batches written, for the next ones: a flood fills some 1,600 a 100 MB, and a new 64 KiB
   * each time (malloc'd, freed after its write) fragmented the heap.
   */
  const spare: Buffer[] = [];
  const recycle = (written: Buffer) => {
    if (written.buffer.byteLength === BATCH_BYTES && spare.length < SPARE_BATCHES) spare.push(Buffer.from(written.buffer as ArrayBuffer));
  };
  let flushTimer: NodeJS.Timeout | undefined;
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let writing = false;
  let pressed = false;
  const maxQueued = o.maxQueuedBytes ?? MAX_QUEUED_BYTES;

  function settled(err: unknown): void {
    if (err) {
      if (!failed) o.onError?.(err);
      failed = true;
    } else failed = false;
  }

  /** Copies the full log aside and empties it, between two writes (nothing of ours lands meanwhile). */
  function rotateAsync(then: () => void): void {
    fstat(o.fd, (err, st) => {
      if (err) return settled(err), then();
      if (st.size < o.maxBytes) return (size = st.size), then();
      const truncate = () =>
        ftruncate(o.fd, 0, (e) => {
          settled(e);
          if (!e) {
            size = 0;
            rotations++;
          }
          then();
        });
      if (copyAside) copyFile(o.path, `${o.path}.1`, (e) => (e ? (settled(e), then()) : truncate()));
      else truncate();
    });
  }

  let drainWaiters: (() => void)[] = [];
  function pump(): void {
    if (!writing && queue.length === 0 && drainWaiters.length > 0) {
      const woken = drainWaiters;
      drainWaiters = [];
      for (const w of woken) w();
    }
    if (writing || queue.length === 0) return;
    writing = true;
    const data = queue[0]!;
    write(o.fd, data, 0, data.length, null, (err, n) => {
      if (err) {
        // ENOSPC...: the log is best effort (the terminal is not): this batch is dropped.
        settled(err);
        n = data.length;
      } else settled(undefined);
      if (n < data.length) queue[0] = data.subarray(n);
      else recycle(queue.shift()!);
      queuedBytes -= n;
      size += err ? 0 : n;
      if (pressed && queuedBytes <= maxQueued / 2) {
        pressed = false;
        o.onPressure?.(false);
      }
      const next = () => {
        writing = false;
        pump();
      };
      if (size >= o.maxBytes) rotateAsync(next);
      else next();
    });
  }

  function enqueue(data: Buffer): void {
    queue.push(data);
    queuedBytes += data.length;
    if (!pressed && queuedBytes > maxQueued) {
      pressed = true;
      o.onPressure?.(true);
    }
    pump();
  }

  function flushHeld(): void {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (heldBytes === 0) return;
    enqueue(held.subarray(0, heldBytes));
    held = spare.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
    heldBytes = 0;
  }

  /** At exit: what is queued and held, written at once (a write on the pool may still land after it). */
  function flushSync(): void {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (heldBytes > 0) queue.push(held.subarray(0, heldBytes));
    heldBytes = 0;
    const rest = writing ? queue.splice(1) : queue.splice(0);
    for (const data of rest) writeNow(data);
    queuedBytes = 0;
  }
  process.on('exit', flushSync);

  return {
    write(data) {
      if (heldBytes + data.length > BATCH_BYTES) flushHeld();
      if (data.length >= BATCH_BYTES) return enqueue(Buffer.from(data));
      held.set(data, heldBytes);
      heldBytes += data.length;
      flushTimer ??= setTimeout(flushHeld, BATCH_MS);
    },
    flush: flushSync,
    get size() {
      return size;
    },
    get rotations() {
      return rotations;
    },
    get queued() {
      return queuedBytes + heldBytes;
    },
    drained() {
      flushHeld();
      if (!writing && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
  };
}
