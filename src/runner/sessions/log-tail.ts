/** The last lines of a session's log, for error messages about a spawn that failed. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Reads at most the last `maxBytes` of the file; only whole lines are returned (at most `lines`). */
export function tailLines(path: string, lines = 20, maxBytes = 16 * 1024): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    let text = buf.subarray(0, n).toString('utf8');
    // A partial first line (we started mid-file) would be misleading.
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}
