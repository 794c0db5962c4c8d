/**
 * The spool: output the screen model has not parsed yet and the ring is about to overwrite,
 * kept on disk so that a flood never waits for the parser and never grows the heap.
 *
 * It is one file, unlinked as soon as it is opened: only this process holds it, so a crash,
 * a kill -9 or a full disk can never leave it behind. It holds one contiguous range of output
 * offsets, [start, end); it is emptied whenever the parser has read it all, and its disk space is
 * given back (truncated) once the parser has caught up with the output.
 */
import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface OutputSpool {
  /** Offset of the first byte held; equals `end` when empty. */
  readonly start: number;
  /** Offset just past the last byte held. */
  readonly end: number;
  /** Set once a write failed (ENOSPC...): what was held stays readable, nothing more should be appended. */
  readonly failed: unknown;
  /** Appends the bytes at offset `end` (the first append of an empty spool sets `start`); they are copied, and written to the file in the background. */
  append(offset: number, data: Uint8Array | Uint8Array[]): void;
  /**
   * Up to `maxBytes` from `offset` (start <= offset < end), read from the file or from what is
   * still on its way there (into `into` when given: a view of it); it may return fewer bytes
   * than asked where the two meet.
   */
  read(offset: number, maxBytes: number, into?: Buffer): Buffer;
  /** Forgets everything; the next append writes over the file from its start (no truncation: cheap). */
  clear(): void;
  /** Forgets everything and gives the disk space back. */
  release(): void;
  close(): void;
}

/**
 * Appended output waiting to be written beyond which an append is written at once, on the
 * calling thread (a disk that slow sets the pace; the memory held stays bounded).
 */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;

interface Pending {
  /** Output offset of its first byte. */
  offset: number;
  /** File position it is written at. */
  position: number;
  data: Buffer;
}

/**
 * Opens the spool in `dir` (created by the caller, 0700). Throws when the file cannot be made.
 *
 * Appends are copied and written on libuv's pool (a flood's spool writes took a sixth of the
 * thread that reads the PTY), each at its own file position, one at a time; until written they
 * are read from memory.
 */
export function openOutputSpool(dir: string, name: string): OutputSpool {
  const path = join(dir, `.${name}.${process.pid}.spool`);
  const fd = openSync(path, 'w+', 0o600);
  unlinkSync(path);
  let start = 0;
  let end = 0;
  /** File position of `start`. */
  let base = 0;
  let closed = false;
  let failed: unknown;
  /** The file's size: the most it ever held since the last release. */
  let fileBytes = 0;
  /** Appended and not yet written, in order of offset (the first may be on its way). */
  let pending: Pending[] = [];
  let pendingBytes = 0;
  let writing: Pending | undefined;
  let releaseWanted = false;
  /** File position just past the last byte appended. */
  let positionEnd = 0;

  const position = (offset: number) => base + (offset - start);
  const idle = () => writing === undefined && pending.length === 0;

  function truncate(): void {
    releaseWanted = false;
    if (closed || fileBytes === 0) return;
    ftruncateSync(fd, 0);
    fileBytes = 0;
  }

  function settle(done: Pending): void {
    const i = pending.indexOf(done);
    if (i >= 0) {
      pending.splice(i, 1);
      pendingBytes -= done.data.length;
    }
  }

  function pump(): void {
    if (writing || failed || closed) return;
    const next = pending[0];
    if (!next) {
      if (releaseWanted) truncate();
      return;
    }
    writing = next;
    let at = 0;
    const step = () =>
      write(fd, next.data, at, next.data.length - at, next.position + at, (err, n) => {
        if (err || closed) {
          // Kept in memory (still readable); the feeder stops spooling once it sees `failed`.
          if (!closed) failed ??= err;
          writing = undefined;
          return;
        }
        at += n;
        if (at < next.data.length) return step();
        writing = undefined;
        settle(next);
        pump();
      });
    step();
  }

  function clear(): void {
    start = end;
    // What waits for its write is not needed any more (one on its way finishes).
    pending = writing ? [writing] : [];
    pendingBytes = writing ? writing.data.length : 0;
  }

  return {
    get start() {
      return start;
    },
    get end() {
      return end;
    },
    get failed() {
      return failed;
    },
    append(offset, data) {
      if (closed) throw new Error('the spool is closed');
      // In use again: a release still waiting for a write would cut off what comes now.
      releaseWanted = false;
      if (start === end) {
        // Empty: written over from the file's start, unless a write is still on its way there.
        base = idle() ? 0 : positionEnd;
        start = end = offset;
      } else if (offset !== end) throw new RangeError(`spool append at ${offset}, expected ${end}`);
      const parts = Array.isArray(data) ? data : [data];
      const copy = parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
      const item: Pending = { offset: end, position: position(end), data: copy };
      end += copy.length;
      positionEnd = item.position + copy.length;
      fileBytes = Math.max(fileBytes, positionEnd);
      if (pendingBytes + copy.length > MAX_PENDING_BYTES && !failed) {
        // A failed write (ENOSPC) throws before the append counts: a partial write is not held.
        try {
          let at = 0;
          while (at < copy.length) at += writeSync(fd, copy, at, copy.length - at, item.position + at);
        } catch (err) {
          end = item.offset;
          throw err;
        }
        return;
      }
      pending.push(item);
      pendingBytes += copy.length;
      pump();
    },
    read(offset, maxBytes, into) {
      if (offset < start || offset >= end) throw new RangeError(`spool holds ${start}..${end}, not ${offset}`);
      let length = Math.min(maxBytes, end - offset, into ? into.length : Infinity);
      const held = pending.find((p) => offset < p.offset + p.data.length && offset + length > p.offset);
      if (held && offset >= held.offset) {
        const from = offset - held.offset;
        length = Math.min(length, held.data.length - from);
        const out = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
        held.data.copy(out, 0, from, from + length);
        return out;
      }
      // From the file, up to the first byte still on its way there.
      if (held) length = held.offset - offset;
      const out = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, out, got, length - got, position(offset) + got);
        if (n === 0) throw new Error(`the spool ended early at ${offset + got}`);
        got += n;
      }
      return out;
    },
    clear,
    release() {
      clear();
      if (idle()) truncate();
      else releaseWanted = true;
    },
    close() {
      if (closed) return;
      closed = true;
      pending = [];
      pendingBytes = 0;
      closeSync(fd);
    },
  };
}
