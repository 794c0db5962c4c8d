/**
 * A small real tmpfs for tests where a disk must fill (root only: mounting needs
 * CAP_SYS_ADMIN). Tests skip loudly when not root. Every mount is recorded so that
 * `unmountAll()` (call it from afterEach, after the processes using it were killed) always
 * unmounts, also when the test failed.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, fstatSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Warns once per file that disk-full tests are skipped (they need root to mount a tmpfs). */
export function warnIfNotRoot(what: string): void {
  if (!isRoot) console.warn(`\n*** SKIPPED: ${what} needs root to mount a tmpfs (run the tests as root, as CI does) ***\n`);
}

export interface Tmpfs {
  dir: string;
  /** Fills the file system completely (a filler file grown until ENOSPC). */
  fill(): void;
  /** Fills it, then frees exactly `bytes` (rounded to pages by the kernel). */
  fillLeaving(bytes: number): void;
  /** Removes the filler: the space is back. */
  free(): void;
}

/**
 * Appends newlines to `file` until ENOSPC: fills the slack of its last page, which a full
 * tmpfs still lets that file append into (page-granular allocation).
 */
export function fillFileSlack(file: string): void {
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(4096, 0x0a);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

const mounted = new Set<string>();
const FILLER = '.disk-filler';

/** Mounts a tmpfs of `sizeBytes` on `dir` (created if missing; it should be empty). */
export function mountTmpfs(dir: string, sizeBytes: number): Tmpfs {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  mounted.add(dir);
  const filler = join(dir, FILLER);
  const fill = (): void => {
    const fd = openSync(filler, 'a', 0o600);
    const chunk = Buffer.alloc(4096, 0x78);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
  };
  return {
    dir,
    fill,
    fillLeaving(bytes) {
      fill();
      const fd = openSync(filler, 'r+');
      try {
        ftruncateSync(fd, Math.max(0, fstatSync(fd).size - bytes));
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
  };
}

/** Unmounts every tmpfs mounted by this file, innermost first (lazily if still busy). */
export function unmountAll(): void {
  for (const dir of [...mounted].sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      } catch (err) {
        console.warn(`could not unmount the test tmpfs at ${dir}: ${String(err)}`);
      }
    }
    mounted.delete(dir);
  }
}
