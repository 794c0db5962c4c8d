// Worktrees and --workspace-root: the directory a session finally runs in (after the worktree is
// created and symlinks are resolved) lies inside a root, and a worktree that would land outside
// is refused before anything (branch, directory, worktree entry) is created. Real git
// repositories in a temporary HAPI_HOME, spawned through the runner's SessionManager with real
// session processes (the built CLI: `npm run build` first).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HapiError } from '../src/shared/errors.js';
import type { SessionInfo, SpawnSpec } from '../src/contract/types.js';
import { cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';
import { createManagerFixture, type ManagerFixture } from './fixtures/session-test-runner.js';

const homes: TestHome[] = [];
const fixtures: ManagerFixture[] = [];

afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close().catch(() => {});
  for (const th of homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

async function setup(roots: (home: string) => string[]): Promise<{ th: TestHome; f: ManagerFixture }> {
  const th = createTestHome();
  homes.push(th);
  const workspaceRoots = roots(th.home);
  for (const r of workspaceRoots) mkdirSync(r, { recursive: true });
  const f = await createManagerFixture(th, { workspaceRoots });
  fixtures.push(f);
  return { th, f };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8', stdio: 'pipe' });
}

function gitRepo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'init');
}

const branches = (repo: string) => git(repo, 'branch', '--format=%(refname:short)').trim().split('\n');
const worktreeCount = (repo: string) => git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length;

function spec(directory: string, extra: Partial<SpawnSpec> = {}): SpawnSpec {
  return { directory, approveCreateDirectory: false, agentArgs: [], worktree: {}, ...extra };
}

async function refusal(f: ManagerFixture, s: SpawnSpec): Promise<HapiError> {
  const err = await f.manager.spawn(s).then(
    (v) => {
      throw new Error(`expected a refusal, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HapiError);
  return err as HapiError;
}

async function spawned(f: ManagerFixture, s: SpawnSpec): Promise<SessionInfo> {
  const outcome = await f.manager.spawn(s);
  if (outcome.kind !== 'session') throw new Error(`expected a session, got ${JSON.stringify(outcome)}`);
  return outcome.session;
}

/** The agent's working directory, from the line the fixture agent prints into the session log. */
async function agentCwd(session: SessionInfo): Promise<string> {
  return waitFor(() => /fixture agent pid=\d+ session=\S* cwd=(\S+)/.exec(readFileSync(session.logPath!, 'utf8'))?.[1], 10_000, 'agent line');
}

describe('worktrees inside --workspace-root', () => {
  it('refuses a worktree of a repository that is a root itself, creating nothing', async () => {
    const { th, f } = await setup((h) => [join(h, 'ws')]);
    const root = join(th.home, 'ws');
    gitRepo(root);
    const before = readdirSync(th.home).sort();

    const err = await refusal(f, spec(root, { sessionId: 'abcdef12-1' }));
    expect(err.kind).toBe('PermissionDenied');
    expect(err.message).toContain(`would be created at ${join(th.home, 'ws-hapi-abcdef12')}, outside the allowed workspace roots`);
    expect(readdirSync(th.home).sort()).toEqual(before);
    expect(branches(root)).toEqual(['main']);
    expect(worktreeCount(root)).toBe(1);
    expect(f.manager.list()).toEqual([]);
  }, 60_000);

  it('refuses a worktree of a repository that contains the root, creating nothing', async () => {
    const { th, f } = await setup((h) => [join(h, 'repo', 'sub')]);
    const repo = join(th.home, 'repo');
    gitRepo(repo);
    const before = readdirSync(th.home).sort();

    const err = await refusal(f, spec(join(repo, 'sub')));
    expect(err.kind).toBe('PermissionDenied');
    expect(readdirSync(th.home).sort()).toEqual(before);
    expect(branches(repo)).toEqual(['main']);
    expect(worktreeCount(repo)).toBe(1);
  }, 60_000);

  it('creates the worktree beside a repository inside a root and runs the session there', async () => {
    const { th, f } = await setup((h) => [join(h, 'ws')]);
    const repo = join(th.home, 'ws', 'repo');
    gitRepo(repo);
    const s = await spawned(f, spec(repo, { sessionId: 'beside00-1' }));
    expect(s.worktree?.path).toBe(join(th.home, 'ws', 'repo-hapi-beside00'));
    expect(s.directory).toBe(s.worktree!.path);
    expect(await agentCwd(s)).toBe(s.worktree!.path);
  }, 60_000);

  it('refuses a symlink in a root that leads to a repository outside it, creating nothing', async () => {
    const { th, f } = await setup((h) => [join(h, 'ws')]);
    const outside = join(th.home, 'outside');
    gitRepo(join(outside, 'repo'));
    symlinkSync(join(outside, 'repo'), join(th.home, 'ws', 'link'));

    const err = await refusal(f, spec(join(th.home, 'ws', 'link')));
    expect(err.kind).toBe('PermissionDenied');
    expect(readdirSync(outside)).toEqual(['repo']);
    expect(branches(join(outside, 'repo'))).toEqual(['main']);
    expect(worktreeCount(join(outside, 'repo'))).toBe(1);
  }, 60_000);

  it('refuses a symlink planted where the worktree would go (pointing outside), creating no branch', async () => {
    const { th, f } = await setup((h) => [join(h, 'ws')]);
    const repo = join(th.home, 'ws', 'repo');
    gitRepo(repo);
    mkdirSync(join(th.home, 'outside'));
    symlinkSync(join(th.home, 'outside', 'target'), join(th.home, 'ws', 'repo-hapi-planted0'));

    const err = await refusal(f, spec(repo, { sessionId: 'planted0-1' }));
    expect(err.kind).toBe('AlreadyExists');
    expect(readdirSync(join(th.home, 'outside'))).toEqual([]);
    expect(branches(repo)).toEqual(['main']);
    expect(worktreeCount(repo)).toBe(1);
  }, 60_000);

  it('a sub-directory that is a symlink out of the root in the checkout does not lead the session out', async () => {
    const { th, f } = await setup((h) => [join(h, 'ws')]);
    const repo = join(th.home, 'ws', 'repo');
    const outside = join(th.home, 'outside');
    mkdirSync(outside);
    gitRepo(repo);
    // Committed as a symlink to a directory outside the root...
    symlinkSync(outside, join(repo, 'sub'));
    git(repo, 'add', 'sub');
    git(repo, 'commit', '-q', '-m', 'link');
    // ...but a real directory in the working tree the spawn is asked for.
    renameSync(join(repo, 'sub'), join(th.home, 'sub-link-aside'));
    mkdirSync(join(repo, 'sub'));

    const s = await spawned(f, spec(join(repo, 'sub'), { sessionId: 'sublink0-1' }));
    const worktree = join(th.home, 'ws', 'repo-hapi-sublink0');
    expect(s.directory).toBe(worktree);
    expect(await agentCwd(s)).toBe(worktree);
    expect(existsSync(join(worktree, 'sub'))).toBe(true);
    rmSync(join(th.home, 'sub-link-aside'));
  }, 60_000);
});
