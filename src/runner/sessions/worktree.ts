/**
 * Git worktrees for sessions: `git worktree add -b <branch> <repo parent>/<repo name>-<branch>`,
 * so a session works on its own branch in its own directory next to the repository.
 *
 * With workspace roots set, that directory must lie inside a root (after resolving symlinks):
 * a worktree that would land outside (the repository is a root itself, or contains one) is
 * refused before anything is created, no branch, no directory.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  PermissionDeniedError,
  errnoCode,
  isHapiError,
} from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { WorktreeInfo } from '../../contract/types.js';
import { checkWorkspaceRoots } from './directory.js';

export interface CreatedWorktree {
  info: WorktreeInfo;
  /** Directory to run in: the worktree, or the same sub-directory of it that was requested. */
  directory: string;
  /** Commit the branch was created at; the branch is only deleted if it still points there. */
  baseCommit: string;
}

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

function git(args: string[], cwd: string): Promise<GitResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      'git',
      args,
      // No prompts (credential helpers, editors) can ever block a spawn.
      { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', LC_ALL: 'C' }, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && errnoCode(err) === 'ENOENT' && typeof (err as { code?: unknown }).code === 'string') {
          reject(new FailedPreconditionError('git not found on PATH; it is needed to create a worktree'));
          return;
        }
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** The default branch of a session's worktree: hapi/<first 8 characters of the session id>. */
export function defaultWorktreeBranch(sessionId: string): string {
  return `hapi/${sessionId.slice(0, 8)}`;
}

/** Branch name as a directory-name suffix: anything but [A-Za-z0-9._-] becomes '-'. */
export function sanitizeBranch(branch: string): string {
  return branch.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'worktree';
}

export interface CreateWorktreeOptions {
  /** An existing directory inside the repository. */
  directory: string;
  sessionId: string;
  branch?: string;
  /** Allowed workspace roots; empty = unrestricted. The worktree must lie inside one. */
  workspaceRoots?: readonly string[];
  log: Logger;
}

/** Creates the worktree. FailedPreconditionError when `directory` is not in a git repository. */
export async function createWorktree(opts: CreateWorktreeOptions): Promise<CreatedWorktree> {
  const top = await git(['rev-parse', '--show-toplevel'], opts.directory);
  if (top.code !== 0) {
    throw new FailedPreconditionError(`${opts.directory} is not a git repository; cannot create a worktree`, { directory: opts.directory });
  }
  const repository = top.stdout.trim();
  const branch = opts.branch?.trim() || defaultWorktreeBranch(opts.sessionId);
  const check = await git(['check-ref-format', '--branch', branch], repository);
  if (check.code !== 0) throw new InvalidArgumentError(`invalid worktree branch name ${JSON.stringify(branch)}`);

  const head = await git(['rev-parse', '--verify', 'HEAD^{commit}'], repository);
  if (head.code !== 0) {
    throw new FailedPreconditionError(`${repository} has no commits yet; a worktree needs a commit to branch from`, { repository });
  }
  const baseCommit = head.stdout.trim();
  const branchExists = await git(['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], repository);
  if (branchExists.code === 0) {
    throw new AlreadyExistsError(`branch '${branch}' already exists in ${repository}; choose another worktree branch`, { branch, repository });
  }
  const path = join(dirname(repository), `${basename(repository)}-${sanitizeBranch(branch)}`);
  checkWorktreeInsideRoots(path, repository, opts.workspaceRoots ?? []);
  // lstat, not exists: a dangling symlink there would make git fail after creating the branch.
  if (pathExists(path)) {
    throw new AlreadyExistsError(`${path} already exists; cannot create a worktree there`, { path });
  }

  const add = await git(['worktree', 'add', '-b', branch, path, baseCommit], repository);
  if (add.code !== 0) {
    throw new FailedPreconditionError(`git worktree add failed: ${add.stderr.trim() || `exit code ${add.code}`}`, { repository, branch, path });
  }
  opts.log.info({ repository, branch, path }, 'worktree created');

  // Keep the sub-directory the caller asked for, when the worktree has it.
  // A sub-directory that is a symlink in the checkout must not lead out of the worktree.
  const sub = relative(repository, opts.directory);
  let directory = path;
  if (sub && !sub.startsWith('..')) {
    const candidate = join(path, sub);
    try {
      if (statSync(candidate).isDirectory() && isInside(realpathSync(candidate), realpathSync(path))) directory = candidate;
    } catch {
      // not in the checkout (e.g. an untracked directory): run at the worktree root
    }
  }
  return { info: { path, branch, repository }, directory, baseCommit };
}

function checkWorktreeInsideRoots(path: string, repository: string, roots: readonly string[]): void {
  if (roots.length === 0) return;
  try {
    checkWorkspaceRoots(path, roots);
  } catch (err) {
    if (!isHapiError(err) || err.kind !== 'PermissionDenied') throw err;
    throw new PermissionDeniedError(
      `a worktree of ${repository} would be created at ${path}, outside the allowed workspace roots (${roots.join(', ')}); ` +
        `worktrees are created beside their repository, so the repository's parent directory must be inside a workspace root`,
      { path, repository, workspaceRoots: [...roots] },
    );
  }
}

function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Removes a worktree created for a spawn that failed, but only when it holds no work:
 * uncommitted or untracked changes keep it (and its branch) in place. The branch is deleted
 * only if it still points at the commit it was created from. Returns true when removed.
 */
export async function removeWorktreeIfUnused(created: CreatedWorktree, log: Logger): Promise<boolean> {
  const { path, branch, repository } = created.info;
  if (!existsSync(path)) return false;
  const status = await git(['status', '--porcelain'], path);
  if (status.code !== 0 || status.stdout.trim() !== '') {
    log.warn({ path, branch }, 'keeping worktree of failed spawn: it has uncommitted changes');
    return false;
  }
  const remove = await git(['worktree', 'remove', path], repository);
  if (remove.code !== 0) {
    log.warn({ path, stderr: remove.stderr.trim() }, 'could not remove worktree of failed spawn');
    return false;
  }
  const tip = await git(['rev-parse', '--verify', `refs/heads/${branch}`], repository);
  if (tip.code === 0 && tip.stdout.trim() === created.baseCommit) {
    await git(['branch', '-D', branch], repository);
  } else {
    log.warn({ branch }, 'keeping branch of failed spawn: it has new commits');
  }
  log.info({ path, branch }, 'removed worktree of failed spawn');
  return true;
}
