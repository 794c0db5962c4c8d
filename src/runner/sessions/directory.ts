/**
 * The working directory of a spawn: resolution, the workspace-root fence, the approval to
 * create a missing directory, and creation errors turned into messages a person can act on.
 */
import { lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  PermissionDeniedError,
  DiskFullError,
  errnoCode,
  type HapiError,
} from '../../shared/errors.js';

export type DirectoryOutcome =
  | { kind: 'ready'; directory: string; created: boolean }
  | { kind: 'approval-required'; directory: string };

export interface PrepareDirectoryOptions {
  /** As requested: absolute, `~/...`, or relative to `homeDir`. */
  directory: string;
  approveCreate: boolean;
  /** Allowed roots; empty = unrestricted. */
  workspaceRoots: readonly string[];
  homeDir?: string;
}

/** Absolute form of a requested directory: `~` and relative paths are taken from the home directory. */
export function resolveDirectory(requested: string, homeDir = homedir()): string {
  const text = requested.trim();
  if (text === '') throw new InvalidArgumentError('directory is required');
  if (text.includes('\0')) throw new InvalidArgumentError('directory must not contain NUL bytes');
  const expanded = text.replace(/^~(?=$|\/)/, homeDir);
  return isAbsolute(expanded) ? resolve(expanded) : resolve(homeDir, expanded);
}

/**
 * Checks and, when approved, creates the directory. The workspace roots are checked first,
 * so a path outside them is refused before anyone is asked to approve creating it.
 */
export function prepareDirectory(opts: PrepareDirectoryOptions): DirectoryOutcome {
  const directory = resolveDirectory(opts.directory, opts.homeDir);
  if (opts.workspaceRoots.length > 0) checkWorkspaceRoots(directory, opts.workspaceRoots);

  let stat;
  try {
    stat = statSync(directory);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOTDIR') throw fileInTheWay(directory);
    if (code === 'EACCES') throw new PermissionDeniedError(`permission denied reading ${directory}`, { directory });
    if (code !== 'ENOENT') throw creationError(err, directory);
    if (isDanglingSymlink(directory)) {
      throw new FailedPreconditionError(`${directory} is a symbolic link to a missing target`, { directory });
    }
    if (!opts.approveCreate) return { kind: 'approval-required', directory };
    try {
      mkdirSync(directory, { recursive: true });
    } catch (mkErr) {
      throw creationError(mkErr, directory);
    }
    return { kind: 'ready', directory, created: true };
  }
  if (!stat.isDirectory()) {
    throw new FailedPreconditionError(`a file exists at ${directory}; it is not a directory`, { directory });
  }
  return { kind: 'ready', directory, created: false };
}

/**
 * PermissionDeniedError unless `directory` lies inside one of the roots. Symlinks are resolved
 * on the deepest existing ancestor, so `~/work/link-to-etc/new` cannot escape a root.
 */
export function checkWorkspaceRoots(directory: string, roots: readonly string[]): void {
  const real = realpathOfDeepestAncestor(directory);
  for (const root of roots) {
    const realRoot = realpathOfDeepestAncestor(resolve(root));
    if (isInside(real, realRoot)) return;
  }
  throw new PermissionDeniedError(`${directory} is outside the allowed workspace roots (${roots.join(', ')})`, {
    directory,
    workspaceRoots: [...roots],
  });
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** realpath of the deepest ancestor that exists, with the missing tail appended unchanged. */
function realpathOfDeepestAncestor(path: string): string {
  const tail: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(realpathSync(current), ...tail.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      tail.push(current.slice(parent.length).replace(/^\//, ''));
      current = parent;
    }
  }
}

function isDanglingSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The first ancestor of `path` that exists and is not a directory. */
function fileInTheWay(path: string): HapiError {
  let current = path;
  for (;;) {
    try {
      if (!statSync(current).isDirectory()) break;
    } catch {
      // missing or not traversable: keep walking up
    }
    const parent = dirname(current);
    if (parent === current) {
      current = path;
      break;
    }
    current = parent;
  }
  return new FailedPreconditionError(`a file exists at ${current}; cannot use ${path} as a directory`, { directory: path, file: current });
}

/** Maps an error of creating `directory` to a typed error with a message a person can act on. */
export function creationError(err: unknown, directory: string): HapiError {
  const code = errnoCode(err);
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new PermissionDeniedError(`permission denied creating ${directory}`, { directory, code });
    case 'ENOTDIR':
    case 'EEXIST':
      return fileInTheWay(directory);
    case 'ENOSPC':
    case 'EDQUOT':
      return new DiskFullError(`disk full: cannot create ${directory}`, { directory, code });
    case 'EROFS':
      return new FailedPreconditionError(`read-only file system: cannot create ${directory}`, { directory, code });
    case 'ENAMETOOLONG':
      return new InvalidArgumentError(`path too long: ${directory}`, { directory, code });
    default:
      return new InternalError(`cannot create ${directory}: ${code ?? (err instanceof Error ? err.message : String(err))}`, {
        directory,
        code,
      });
  }
}
