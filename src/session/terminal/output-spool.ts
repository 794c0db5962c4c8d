/**
 * The spool: output the screen model has not parsed yet and the ring is about to overwrite,
 * kept on disk so that a flood never waits for the parser and never grows the heap.
 *
 * It is one file, unlinked as soon as it is opened: only this process holds it, so a crash,
 * a kill -9 or a full disk can never leave it behind. It holds one contiguous range of output
 * offsets, [start, end); it is emptied whenever the parser has read it all, and its disk space is
 * given back (truncated) once the parser has caught up with the output.
 */
import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface OutputSpool {
  /** Offset of the first byte held; equals `end` when empty. */
  readonly start: number;
  /** Offset just past the last byte held. */
  readonly end: number;
  /** Appends the bytes at offset `end` (the first append of an empty spool sets `start`). Throws on a write error (ENOSPC), keeping what it held. */
  append(offset: number, data: Uint8Array | Uint8Array[]): void;
  /** Up to `maxBytes` from `offset` (start <= offset < end), read from the file (into `into` when given: a view of it). */
  read(offset: number, maxBytes: number, into?: Buffer): Buffer;
  /** Forgets everything; the next append writes over the file from its start (no truncation: cheap). */
  clear(): void;
  /** Forgets everything and gives the disk space back. */
  release(): void;
  close(): void;
}

/** Opens the spool in `dir` (created by the caller, 0700). Throws when the file cannot be made. */
export function openOutputSpool(dir: string, name: string): OutputSpool {
  const path = join(dir, `.${name}.${process.pid}.spool`);
  const fd = openSync(path, 'w+', 0o600);
  unlinkSync(path);
  let start = 0;
  let end = 0;
  let closed = false;
  /** The file's size: the most it ever held since the last release. */
  let fileBytes = 0;

  return {
    get start() {
      return start;
    },
    get end() {
      return end;
    },
    append(offset, data) {
      if (closed) throw new Error('the spool is closed');
      if (start === end) start = end = offset;
      else if (offset !== end) throw new RangeError(`spool append at ${offset}, expected ${end}`);
      // A failed write (ENOSPC) throws before `end` moves: a partial write is not held.
      let written = 0;
      for (const part of Array.isArray(data) ? data : [data]) {
        let at = 0;
        while (at < part.length) at += writeSync(fd, part, at, part.length - at, end - start + written + at);
        written += part.length;
      }
      end += written;
      fileBytes = Math.max(fileBytes, end - start);
    },
    read(offset, maxBytes, into) {
      if (offset < start || offset >= end) throw new RangeError(`spool holds ${start}..${end}, not ${offset}`);
      const length = Math.min(maxBytes, end - offset, into ? into.length : Infinity);
      const out = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, out, got, length - got, offset - start + got);
        if (n === 0) throw new Error(`the spool ended early at ${offset + got}`);
        got += n;
      }
      return out;
    },
    clear() {
      start = end;
    },
    release() {
      start = end;
      if (closed || fileBytes === 0) return;
      ftruncateSync(fd, 0);
      fileBytes = 0;
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}
