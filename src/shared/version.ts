/**
 * The CLI's version and the file whose mtime identifies an installed build. The runner
 * records both at start and hands off to a new runner when the file's mtime changes.
 */
import { realpathSync, statSync } from 'node:fs';

declare const __HAPI_VERSION__: string | undefined;

/** Injected by the bundler; "0.0.0-dev" when running unbundled (tests of pure modules). */
export const CLI_VERSION: string = typeof __HAPI_VERSION__ === 'string' ? __HAPI_VERSION__ : '0.0.0-dev';

/** Absolute path of the running CLI entry file (the bundle, dist/hapi.cjs). */
export function cliPath(): string {
  const entry = process.argv[1];
  if (!entry) return process.execPath;
  try {
    return realpathSync(entry);
  } catch {
    return entry;
  }
}

/** mtime (ms) of the CLI file, or 0 when it cannot be read. */
export function cliMtimeMs(path = cliPath()): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
