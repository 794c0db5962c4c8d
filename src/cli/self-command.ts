/**
 * How a person runs this very hapi from a shell, for the commands hapi prints: `hapi` when
 * that name on PATH is this CLI, `npx <package>` when it runs from npx's cache, else
 * `node /abs/path/hapi.cjs` (quoted for a POSIX shell), which always works as printed.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { cliPath } from '../shared/version.js';

/** The npm package name hapi is published under (package.json `name`). */
export const PACKAGE_NAME = '@hapi-dev/cli';

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The first `name` on PATH, resolved through symlinks (npm's bin links), or undefined. */
export function onPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return realpathSync(file);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The command prefix that runs this CLI as printed (`hapi`, `npx @hapi-dev/cli`, `node '/abs/hapi.cjs'`). */
export function selfCommand(env: NodeJS.ProcessEnv = process.env, self = cliPath()): string {
  if (onPath('hapi', env.PATH) === self) return 'hapi';
  // npx runs the package from its cache (…/_npx/<hash>/node_modules/…); npx again finds it there.
  if (/[/\\]_npx[/\\]/.test(self)) return `npx ${PACKAGE_NAME}`;
  let node = quote(process.execPath);
  try {
    if (onPath('node', env.PATH) === realpathSync(process.execPath)) node = 'node';
  } catch {
    // keep the absolute path
  }
  return `${node} ${quote(self)}`;
}
