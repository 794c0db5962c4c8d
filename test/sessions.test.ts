// The session manager, constructed in the test process and driven directly, with real
// session processes of the built CLI (dist/hapi.cjs; `npm run build` first) that run the
// fixture agent and report themselves over the runner's real gRPC service on the socket.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HapiError } from '../src/shared/errors.js';
import { processStartTime } from '../src/shared/proc.js';
import type { SessionInfo } from '../src/contract/types.js';
import { FIXTURE_AGENT, isAlive as pidExists, cleanupAllHomes, createTestHome, processesOfHome, waitFor, type TestHome } from './harness.js';
import { createManagerFixture, fixtureAgentEnv, type ManagerFixture } from './fixtures/session-test-runner.js';

const homes: TestHome[] = [];
const fixtures: ManagerFixture[] = [];

afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close().catch(() => {});
  for (const th of homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

function home(extraEnv: NodeJS.ProcessEnv = {}): TestHome {
  const th = createTestHome(extraEnv);
  homes.push(th);
  return th;
}

async function fixture(th: TestHome, opts: Parameters<typeof createManagerFixture>[1] = {}): Promise<ManagerFixture> {
  const f = await createManagerFixture(th, opts);
  fixtures.push(f);
  return f;
}

/** Rejection of `p` as a HapiError (fails the test if it resolves). */
async function hapiError(p: Promise<unknown>): Promise<HapiError> {
  const err = await p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HapiError);
  return err as HapiError;
}

function hapiErrorSync(fn: () => unknown): HapiError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HapiError);
    return err as HapiError;
  }
  throw new Error('expected a throw');
}

/** PID of the fixture agent of a session, from the line it prints into the session log. */
async function agentPidOf(session: SessionInfo): Promise<number> {
  return waitFor(() => {
    const m = /fixture agent pid=(\d+)/.exec(readFileSync(session.logPath!, 'utf8'));
    return m ? Number(m[1]) : undefined;
  }, 10_000, `agent line in ${session.logPath}`);
}

function spawnSpec(directory: string, extra: Partial<Parameters<ManagerFixture['manager']['spawn']>[0]> = {}) {
  return { directory, approveCreateDirectory: false, agentArgs: [], ...extra };
}

async function spawnSession(f: ManagerFixture, directory: string, extra: Parameters<typeof spawnSpec>[1] = {}): Promise<SessionInfo> {
  const outcome = await f.manager.spawn(spawnSpec(directory, extra));
  if (outcome.kind !== 'session') throw new Error(`expected a session, got ${JSON.stringify(outcome)}`);
  return outcome.session;
}

/**
 * A process we start ourselves (detached, own group), standing in for a terminal session; the
 * runner accepts a report for it when its command line names the session id (as a runner-spawned
 * session's does) or its agent's environment does.
 */
function startLoneAgent(th: TestHome, args: string[] = []): { pid: number } {
  const child = spawn(process.execPath, [FIXTURE_AGENT, ...args], { env: th.env, detached: true, stdio: 'ignore' });
  child.unref();
  return { pid: child.pid! };
}

/** Alive and not a zombie (a child of this test process may linger as one until reaped). */
const isAlive = (pid: number) => processStartTime(pid) !== undefined;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('spawn and stop', () => {
  it('spawns a session that reports itself, lists it, persists it, and stops its whole process group', async () => {
    const th = home();
    const f = await fixture(th);
    await f.manager.start();
    const session = await spawnSession(f, th.home, { agentArgs: ['--marker', 'x y'] });

    expect(session).toMatchObject({ startedBy: 'runner', state: 'running', agent: 'claude', directory: th.home });
    expect(isAlive(session.pid)).toBe(true);
    expect(session.processStartTime).toBe(processStartTime(session.pid));
    expect(f.manager.list().map((s) => s.id)).toEqual([session.id]);
    expect(f.events.map((e) => [e.kind, e.session.id])).toEqual([['started', session.id]]);
    expect(readFileSync(f.logFile, 'utf8')).toMatch(/"msg":"Session reported"/);

    // Durable registry, 0600.
    const registry = JSON.parse(readFileSync(f.paths.sessionsFile, 'utf8'));
    expect(registry.sessions).toEqual([expect.objectContaining({ id: session.id, pid: session.pid, state: 'running', startedBy: 'runner' })]);
    expect(statSync(f.paths.sessionsFile).mode & 0o777).toBe(0o600);
    // Per-session log, 0600, with the agent's output and the args passed through.
    expect(session.logPath).toBe(join(f.paths.sessionLogsDir, `${session.id}.log`));
    expect(statSync(session.logPath!).mode & 0o777).toBe(0o600);
    const agentPid = await agentPidOf(session);
    expect(readFileSync(session.logPath!, 'utf8')).toContain(`session=${session.id}`);
    // The session's own hooks settings come first (agent 'claude'), then the caller's arguments.
    expect(readFileSync(session.logPath!, 'utf8')).toMatch(/args=\["--settings","[^"]+\/session-hooks\/[^"]+\.claude\.json","--marker","x y"\]/);

    const stopped = await f.manager.stop({ sessionId: session.id });
    expect(stopped).toEqual({ result: 'stopped', sessionId: session.id });
    expect(isAlive(session.pid)).toBe(false);
    expect(isAlive(agentPid)).toBe(false);
    expect(f.manager.list()).toEqual([]);
    expect(JSON.parse(readFileSync(f.paths.sessionsFile, 'utf8')).sessions).toEqual([]);
    await waitFor(() => f.events.some((e) => e.kind === 'ended' && e.session.id === session.id), 5_000, 'ended event');

    // Stopping again is not an error; unknown targets are.
    expect(await f.manager.stop({ sessionId: session.id })).toEqual({ result: 'already-gone', sessionId: session.id });
    expect((await hapiError(f.manager.stop({ sessionId: 'no-such-id' }))).message).toBe('no session with id no-such-id');
    const nf = await hapiError(f.manager.stop({ pid: 999_999_99 }));
    expect(nf.kind).toBe('NotFound');
    expect(nf.message).toBe('no session with PID 99999999');
  });

  it('stops by PID, escalating to SIGKILL when the agent ignores SIGTERM', async () => {
    const th = home();
    // A grace long enough for a busy machine to run the agent's handler before the SIGKILL.
    const f = await fixture(th, { stopGraceMs: 1_500 });
    const marker = join(th.home, 'sigterm-marker');
    const session = await spawnSession(f, th.home, { agentArgs: ['--ignore-sigterm', '--sigterm-marker', marker] });
    const agentPid = await agentPidOf(session);
    const t0 = Date.now();
    const r = await f.manager.stop({ pid: session.pid });
    expect(r).toEqual({ result: 'stopped', sessionId: session.id });
    // SIGTERM reached the agent and was ignored; only the SIGKILL after the grace ended it. (The
    // marker, not the session log: output written just before a SIGKILL may not be logged yet.)
    expect(readFileSync(marker, 'utf8')).toContain(`SIGTERM ${agentPid}`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_500);

    expect(isAlive(agentPid)).toBe(false);
    expect(isAlive(session.pid)).toBe(false);
    expect(await f.manager.stop({ pid: session.pid })).toEqual({ result: 'already-gone', sessionId: session.id });
  });

  it('a report timeout kills the process tree and returns the stderr tail', async () => {
    const th = home();
    // Not served: the session cannot reach the runner socket, so it never reports.
    const f = await fixture(th, { serve: false, reportTimeoutMs: 1_500, stopGraceMs: 300 });
    const started = Date.now();
    const err = await hapiError(f.manager.spawn(spawnSpec(th.home, { agentArgs: ['--stderr', 'MARKER-ON-STDERR', '--ignore-sigterm'] })));
    expect(err.kind).toBe('DeadlineExceeded');
    expect(err.message).toMatch(/^session \S+ did not report within 1500 ms; stderr tail: /);
    expect(err.message).toContain('MARKER-ON-STDERR');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(f.manager.lastSpawnError()).toBe(err.message);
    // No ghost: nothing of that session runs, nothing is tracked.
    expect(processesOfHome(th.home)).toEqual([]);
    expect(f.manager.list()).toEqual([]);
    expect(JSON.parse(readFileSync(f.paths.sessionsFile, 'utf8')).sessions).toEqual([]);
  });

  it('a session process that exits before reporting fails the spawn with its exit status and output', async () => {
    const th = home();
    // The fixture agent stands in for the CLI: a "session" that dies before reporting.
    const f = await fixture(th, { cliPath: FIXTURE_AGENT });
    const byCode = await hapiError(f.manager.spawn(spawnSpec(th.home, { agentArgs: ['--stderr', 'BOOM-LINE', '--exit-now', '7'] })));
    expect(byCode.kind).toBe('Aborted');
    expect(byCode.message).toMatch(/exited with code 7 before reporting/);
    expect(byCode.message).toContain('BOOM-LINE');
    const bySignal = await hapiError(f.manager.spawn(spawnSpec(th.home, { agentArgs: ['--exit-signal', 'SIGKILL'] })));
    expect(bySignal.kind).toBe('Aborted');
    expect(bySignal.message).toMatch(/killed by SIGKILL before reporting/);
    expect(f.manager.list()).toEqual([]);
  });

  it('an agent that exits at once: the session reports, then ends with the agent exit code', async () => {
    const th = home();
    const f = await fixture(th);
    const session = await spawnSession(f, th.home, { agentArgs: ['--exit-now', '3'] });
    const ended = await waitFor(() => f.events.find((e) => e.kind === 'ended' && e.session.id === session.id), 10_000, 'ended event');
    expect(ended.session).toMatchObject({ state: 'ended', exitCode: 3 });
    await waitFor(() => !isAlive(session.pid), 5_000, 'session process exit');
    expect(f.manager.list()).toEqual([]);
  });

  it('runs 20 concurrent spawns, lists them all, and stops them all', async () => {
    const th = home();
    const f = await fixture(th, { reportTimeoutMs: 30_000 });
    const sessions = await Promise.all(Array.from({ length: 20 }, () => spawnSession(f, th.home)));
    expect(new Set(sessions.map((s) => s.id)).size).toBe(20);
    expect(new Set(sessions.map((s) => s.pid)).size).toBe(20);
    const listed = f.manager.list();
    expect(listed.map((s) => s.id).sort()).toEqual(sessions.map((s) => s.id).sort());
    expect(JSON.parse(readFileSync(f.paths.sessionsFile, 'utf8')).sessions).toHaveLength(20);
    const results = await Promise.all(sessions.map((s) => f.manager.stop({ sessionId: s.id })));
    expect(results.every((r) => r.result === 'stopped')).toBe(true);
    expect(f.manager.list()).toEqual([]);
    await waitFor(() => processesOfHome(th.home).length === 0, 5_000, 'every session process gone');
  });

  it('the same requestId, even concurrently, yields one session and one process', async () => {
    const th = home();
    const f = await fixture(th);
    const spec = spawnSpec(th.home, { requestId: 'req-1' });
    const outcomes = await Promise.all([f.manager.spawn(spec), f.manager.spawn(spec), f.manager.spawn(spec)]);
    const ids = outcomes.map((o) => (o.kind === 'session' ? o.session.id : 'approval'));
    expect(new Set(ids).size).toBe(1);
    expect(f.manager.list()).toHaveLength(1);
    const again = await f.manager.spawn(spec);
    expect(again.kind === 'session' && again.session.id).toBe(ids[0]);
    expect(f.manager.list()).toHaveLength(1);
    // One session process and one agent for this home.
    expect(processesOfHome(th.home)).toHaveLength(2);
    await f.manager.stop({ sessionId: ids[0]! });
    // After it ended, a retry still answers with that session rather than spawning anew.
    const afterEnd = await f.manager.spawn(spec);
    expect(afterEnd.kind === 'session' && afterEnd.session).toMatchObject({ id: ids[0], state: 'ended' });
    expect(f.manager.list()).toHaveLength(0);
  });

  it('refuses a session id already in use, and spawns past HAPI_RUNNER_MAX_SESSIONS', async () => {
    const th = home();
    const f = await fixture(th, { maxSessions: 2 });
    const a = await spawnSession(f, th.home, { sessionId: 'fixed-id-1' });
    expect(a.id).toBe('fixed-id-1');
    expect((await hapiError(f.manager.spawn(spawnSpec(th.home, { sessionId: 'fixed-id-1' })))).kind).toBe('AlreadyExists');
    await spawnSession(f, th.home);
    const full = await hapiError(f.manager.spawn(spawnSpec(th.home)));
    expect(full.kind).toBe('ResourceExhausted');
    expect(full.message).toContain('HAPI_RUNNER_MAX_SESSIONS');
    expect((await hapiError(f.manager.spawn(spawnSpec(th.home, { sessionId: '../etc' })))).kind).toBe('InvalidArgument');
  });

  it('close() never stops sessions that reported', async () => {
    const th = home();
    const f = await fixture(th);
    const s = await spawnSession(f, th.home);
    await f.close();
    expect(isAlive(s.pid)).toBe(true);
    expect(JSON.parse(readFileSync(f.paths.sessionsFile, 'utf8')).sessions.map((e: { id: string }) => e.id)).toEqual([s.id]);
  });
});

describe('agents', () => {
  it('missing binary, unknown name, env override and settings.json agents', async () => {
    const th = home({ PATH: '/nonexistent-bin', HAPI_AGENT_CLAUDE_COMMAND: '' });
    const env = { ...th.env };
    const f = await fixture(th, { env });
    const settings = join(th.home, 'settings.json');

    const missing = await hapiError(f.manager.spawn(spawnSpec(th.home, { agent: 'codex' })));
    expect(missing.kind).toBe('FailedPrecondition');
    expect(missing.message).toBe(`agent 'codex' not found on PATH; set HAPI_AGENT_CODEX_COMMAND or agents.codex.command in ${settings}`);
    const unknown = await hapiError(f.manager.spawn(spawnSpec(th.home, { agent: 'nope' })));
    expect(unknown.kind).toBe('InvalidArgument');
    expect(unknown.message).toBe("unknown agent 'nope'; known agents: claude, codex, gemini, opencode");
    expect(f.manager.lastSpawnError()).toBe(unknown.message);
    expect(processesOfHome(th.home)).toEqual([]);

    // A configured agent is valid, and runs with its configured args before the session's.
    writeFileSync(settings, JSON.stringify({ agents: { mine: { command: process.execPath, args: [FIXTURE_AGENT, '--from-settings'] } } }));
    const s = await spawnSession(f, th.home, { agent: 'mine', agentArgs: ['--extra'] });
    expect(s.agent).toBe('mine');
    await agentPidOf(s);
    expect(readFileSync(s.logPath!, 'utf8')).toContain('args=["--from-settings","--extra"]');
    expect((await hapiError(f.manager.spawn(spawnSpec(th.home, { agent: 'other' })))).message).toContain('known agents: claude, codex, gemini, opencode, mine');

    // A malformed settings file is a clear error, not a crash.
    writeFileSync(settings, '{ not json');
    expect((await hapiError(f.manager.spawn(spawnSpec(th.home, { agent: 'mine' })))).message).toMatch(/settings file .* is not valid JSON/);
  });

  it('an env override naming a missing executable says where it came from', async () => {
    const th = home();
    const f = await fixture(th, { env: { ...fixtureAgentEnv(th), HAPI_AGENT_CODEX_COMMAND: '/opt/nowhere/codex --flag' } });
    const err = await hapiError(f.manager.spawn(spawnSpec(th.home, { agent: 'codex' })));
    expect(err.kind).toBe('FailedPrecondition');
    expect(err.message).toContain("agent 'codex': command '/opt/nowhere/codex'");
    expect(err.message).toContain('HAPI_AGENT_CODEX_COMMAND');
  });
});

describe('directories', () => {
  it('approval, creation, relative paths, symlinks and files in the way', async () => {
    const th = home();
    const f = await fixture(th);
    const target = join(th.home, 'projects', 'new');

    // Missing and not approved: nothing spawned, nothing created.
    expect(await f.manager.spawn(spawnSpec('projects/new'))).toEqual({ kind: 'approval-required', directory: target });
    expect(existsSync(target)).toBe(false);
    expect(processesOfHome(th.home)).toEqual([]);

    // Approved: created (relative to the home directory) and used as the cwd.
    const s = await spawnSession(f, 'projects/new', { approveCreateDirectory: true });
    expect(s.directory).toBe(target);
    expect(statSync(target).isDirectory()).toBe(true);
    await agentPidOf(s);
    expect(readFileSync(s.logPath!, 'utf8')).toContain(`cwd=${target}`);

    // A symlink to a directory is used as is.
    symlinkSync(target, join(th.home, 'link'));
    const viaLink = await spawnSession(f, join(th.home, 'link'));
    expect(viaLink.directory).toBe(join(th.home, 'link'));

    // A file at the path, or in the middle of it.
    writeFileSync(join(th.home, 'afile'), 'x');
    const atPath = await hapiError(f.manager.spawn(spawnSpec(join(th.home, 'afile'))));
    expect(atPath.kind).toBe('FailedPrecondition');
    expect(atPath.message).toContain(`a file exists at ${join(th.home, 'afile')}`);
    const inside = await hapiError(f.manager.spawn(spawnSpec(join(th.home, 'afile', 'sub'), { approveCreateDirectory: true })));
    expect(inside.kind).toBe('FailedPrecondition');
    expect(inside.message).toContain(`a file exists at ${join(th.home, 'afile')}`);
    expect((await hapiError(f.manager.spawn(spawnSpec('')))).kind).toBe('InvalidArgument');
  });

  it.skipIf(isRoot)('EACCES while creating gives "permission denied creating <dir>" (skipped as root: root bypasses directory permissions)', async () => {
    const th = home();
    const f = await fixture(th);
    const locked = join(th.home, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    try {
      const err = await hapiError(f.manager.spawn(spawnSpec(join(locked, 'new'), { approveCreateDirectory: true })));
      expect(err.kind).toBe('PermissionDenied');
      expect(err.message).toBe(`permission denied creating ${join(locked, 'new')}`);
    } finally {
      chmodSync(locked, 0o700);
    }
  });

  it('workspace roots are enforced before approval, through symlinks', async () => {
    const th = home();
    const root = join(th.home, 'ws');
    mkdirSync(root);
    const f = await fixture(th, { workspaceRoots: [root] });

    // Outside and missing: refused, not offered for approval.
    const outside = await hapiError(f.manager.spawn(spawnSpec(join(th.home, 'elsewhere'))));
    expect(outside.kind).toBe('PermissionDenied');
    expect(outside.message).toContain('outside the allowed workspace roots');
    expect(existsSync(join(th.home, 'elsewhere'))).toBe(false);
    // `..` does not escape.
    expect((await hapiError(f.manager.spawn(spawnSpec(join(root, '..', 'x'), { approveCreateDirectory: true })))).kind).toBe('PermissionDenied');
    // A symlink inside the root that points outside does not escape either.
    mkdirSync(join(th.home, 'outside'));
    symlinkSync(join(th.home, 'outside'), join(root, 'escape'));
    expect((await hapiError(f.manager.spawn(spawnSpec(join(root, 'escape', 'new'), { approveCreateDirectory: true })))).kind).toBe('PermissionDenied');
    expect(existsSync(join(th.home, 'outside', 'new'))).toBe(false);

    // Inside: the normal approval flow.
    expect(await f.manager.spawn(spawnSpec(join(root, 'p')))).toEqual({ kind: 'approval-required', directory: join(root, 'p') });
    const s = await spawnSession(f, join(root, 'p'), { approveCreateDirectory: true });
    expect(s.directory).toBe(join(root, 'p'));
  });
});

describe('worktrees', () => {
  function gitRepo(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'init');
  }
  const worktrees = (repo: string) => execFileSync('git', ['worktree', 'list', '--porcelain'], { cwd: repo, encoding: 'utf8' });

  it('creates a sibling worktree on hapi/<id8>, or on a named branch', async () => {
    const th = home();
    const repo = join(th.home, 'repo');
    gitRepo(repo);
    const f = await fixture(th);
    const s = await spawnSession(f, repo, { worktree: {}, sessionId: 'abcdef12-3456-7890' });
    expect(s.worktree).toEqual({ path: join(th.home, 'repo-hapi-abcdef12'), branch: 'hapi/abcdef12', repository: repo });
    expect(s.directory).toBe(s.worktree!.path);
    expect(worktrees(repo)).toContain(`worktree ${s.worktree!.path}`);
    await agentPidOf(s);
    expect(readFileSync(s.logPath!, 'utf8')).toContain(`cwd=${s.worktree!.path}`);

    const named = await spawnSession(f, repo, { worktree: { branch: 'feature/x' } });
    expect(named.worktree).toEqual({ path: join(th.home, 'repo-feature-x'), branch: 'feature/x', repository: repo });
    expect((await hapiError(f.manager.spawn(spawnSpec(repo, { worktree: { branch: 'feature/x' } })))).kind).toBe('AlreadyExists');
    expect((await hapiError(f.manager.spawn(spawnSpec(repo, { worktree: { branch: 'bad..name' } })))).kind).toBe('InvalidArgument');
  }, 60_000);

  it('refuses a directory that is not a git repository, and cleans up only clean worktrees of failed spawns', async () => {
    const th = home();
    const f = await fixture(th, { cliPath: FIXTURE_AGENT });
    const plain = join(th.home, 'plain');
    mkdirSync(plain);
    const notRepo = await hapiError(f.manager.spawn(spawnSpec(plain, { worktree: {} })));
    expect(notRepo.kind).toBe('FailedPrecondition');
    expect(notRepo.message).toContain('is not a git repository');

    const repo = join(th.home, 'repo');
    gitRepo(repo);
    // The "session" (fixture as CLI) exits before reporting: a clean worktree is removed.
    await hapiError(f.manager.spawn(spawnSpec(repo, { worktree: {}, sessionId: 'clean000-1', agentArgs: ['--exit-now', '1'] })));
    expect(existsSync(join(th.home, 'repo-hapi-clean000'))).toBe(false);
    expect(worktrees(repo)).not.toContain('repo-hapi-clean000');
    // One that wrote a file first is kept, with its work.
    await hapiError(
      f.manager.spawn(spawnSpec(repo, { worktree: {}, sessionId: 'dirty000-1', agentArgs: ['--write-file', 'work.txt', '--exit-now', '1'] })),
    );
    expect(readFileSync(join(th.home, 'repo-hapi-dirty000', 'work.txt'), 'utf8')).toContain('written by fixture agent');
    expect(worktrees(repo)).toContain('repo-hapi-dirty000');
  }, 60_000);
});

describe('reports, pruning and re-adoption', () => {
  it('validates reports, tracks terminal sessions idempotently, and stops orphans', async () => {
    const th = home();
    const f = await fixture(th, { serve: false });
    const m = f.manager;
    expect(hapiErrorSync(() => m.reportStarted({ sessionId: '', hostPid: 1, startedBy: 'terminal' })).kind).toBe('InvalidArgument');
    for (const hostPid of [0, -5, 1.5, Number.NaN]) {
      expect(hapiErrorSync(() => m.reportStarted({ sessionId: 's', hostPid, startedBy: 'terminal' })).kind).toBe('InvalidArgument');
    }

    const lone = startLoneAgent(th, ['--hapi-session-id', 'term-1']);
    await waitFor(() => processStartTime(lone.pid), 5_000, 'lone agent');
    const t = m.reportStarted({ sessionId: 'term-1', hostPid: lone.pid, startedBy: 'terminal', directory: '/somewhere', agent: 'codex' });
    expect(t).toMatchObject({ id: 'term-1', pid: lone.pid, startedBy: 'terminal', state: 'running', directory: '/somewhere', agent: 'codex' });
    expect(m.reportStarted({ sessionId: 'term-1', hostPid: lone.pid, startedBy: 'terminal' }).id).toBe('term-1');
    expect(f.events.filter((e) => e.kind === 'started')).toHaveLength(1);
    expect(hapiErrorSync(() => m.reportStarted({ sessionId: 'term-1', hostPid: process.pid, startedBy: 'terminal' })).kind).toBe('AlreadyExists');
    expect(m.list().map((s) => s.id)).toEqual(['term-1']);
    expect(readFileSync(f.logFile, 'utf8')).toMatch(/"sessionId":"term-1","sessionPid":\d+,"startedBy":"terminal","msg":"Session reported"/);

    // Claims to be runner-spawned, but no spawn of ours waits for it: stopped, not adopted.
    const orphan = startLoneAgent(th, ['--hapi-session-id', 'orphan-1']);
    await waitFor(() => processStartTime(orphan.pid), 5_000, 'orphan agent');
    const err = hapiErrorSync(() => m.reportStarted({ sessionId: 'orphan-1', hostPid: orphan.pid, startedBy: 'runner' }));
    expect(err.kind).toBe('FailedPrecondition');
    await waitFor(() => !isAlive(orphan.pid), 5_000, 'orphan stopped');
    expect(m.list().map((s) => s.id)).toEqual(['term-1']);

    // A killed terminal session leaves the list at once and is pruned with an 'ended' event.
    process.kill(lone.pid, 'SIGKILL');
    // A zombie (killed, not yet reaped by its parent) already counts as gone for list().
    await waitFor(() => !pidExists(lone.pid), 5_000, 'lone agent killed and reaped');
    expect(m.list()).toEqual([]);
    const pruned = m.pruneDead();
    expect(pruned.map((s) => s.id)).toEqual(['term-1']);
    expect(f.events.at(-1)).toMatchObject({ kind: 'ended', session: { id: 'term-1', state: 'ended' } });
    expect(m.pruneDead()).toEqual([]);

    // reportEnded of an unknown id is ignored; of a known one ends it.
    m.reportEnded({ sessionId: 'unknown' });
    const lone2 = startLoneAgent(th, ['--hapi-session-id', 'term-2']);
    await waitFor(() => processStartTime(lone2.pid), 5_000, 'lone agent 2');
    m.reportStarted({ sessionId: 'term-2', hostPid: lone2.pid, startedBy: 'terminal' });
    m.reportEnded({ sessionId: 'term-2', exitCode: 4 });
    expect(f.events.at(-1)).toMatchObject({ kind: 'ended', session: { id: 'term-2', exitCode: 4 } });
    expect(m.list()).toEqual([]);
  });

  it('a new manager re-adopts live sessions, never a reused PID, and survives a corrupt registry', async () => {
    const th = home();
    const f1 = await fixture(th);
    await f1.manager.start();
    const a = await spawnSession(f1, th.home);
    const b = await spawnSession(f1, th.home);
    const killed = await spawnSession(f1, th.home);
    await f1.close();
    process.kill(-killed.pid, 'SIGKILL');
    await waitFor(() => !isAlive(killed.pid), 5_000, 'killed session gone');

    // Add an entry for a live process whose start time does not match: a reused PID.
    const registry = JSON.parse(readFileSync(f1.paths.sessionsFile, 'utf8'));
    const impostor = startLoneAgent(th);
    await waitFor(() => processStartTime(impostor.pid), 5_000, 'impostor');
    registry.sessions.push({ ...registry.sessions[0], id: 'reused-pid', pid: impostor.pid, processStartTime: '1' });
    registry.sessions.push({ ...registry.sessions[0], id: 'no-start-time', pid: impostor.pid, processStartTime: undefined });
    writeFileSync(f1.paths.sessionsFile, JSON.stringify(registry));

    const f2 = await fixture(th);
    const adopted = await f2.manager.start();
    expect(adopted.map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
    expect(adopted.every((s) => s.state === 'running')).toBe(true);
    expect(f2.events.filter((e) => e.kind === 'adopted').map((e) => e.session.id).sort()).toEqual([a.id, b.id].sort());
    expect(f2.manager.list().map((s) => s.pid).sort()).toEqual([a.pid, b.pid].sort());
    expect(isAlive(impostor.pid)).toBe(true);
    expect(JSON.parse(readFileSync(f2.paths.sessionsFile, 'utf8')).sessions.map((e: { id: string }) => e.id).sort()).toEqual([a.id, b.id].sort());

    // The adopted sessions can be stopped, and they report their end to the new manager.
    expect(await f2.manager.stop({ sessionId: a.id })).toEqual({ result: 'stopped', sessionId: a.id });
    await f2.close();

    // A registry that cannot be parsed is kept aside, and the live session (b) is found from
    // its process instead of being dropped.
    writeFileSync(f2.paths.sessionsFile, '{"version":1,"sessions":[{"id":"trunc');
    const f3 = await fixture(th);
    expect((await f3.manager.start()).map((s) => `${s.id} ${s.pid} ${s.startedBy}`)).toEqual([`${b.id} ${b.pid} runner`]);
    expect(readFileSync(f3.logFile, 'utf8')).toContain('session registry cannot be parsed; kept aside as');
    expect(readdirSync(th.home).filter((n) => n.startsWith('runner.sessions.json.corrupt-'))).toHaveLength(1);
    expect(JSON.parse(readFileSync(f3.paths.sessionsFile, 'utf8')).sessions.map((e: { id: string }) => e.id)).toEqual([b.id]);
  });

  it('a registry entry that never reported is stopped at start (its spawner is gone)', async () => {
    const th = home();
    const f1 = await fixture(th);
    const lone = startLoneAgent(th);
    const startTime = await waitFor(() => processStartTime(lone.pid), 5_000, 'lone agent');
    writeFileSync(
      f1.paths.sessionsFile,
      JSON.stringify({
        version: 1,
        sessions: [{ id: 'half', pid: lone.pid, processStartTime: startTime, directory: th.home, agent: 'claude', startedBy: 'runner', startedAt: new Date().toISOString(), state: 'starting' }],
      }),
    );
    expect(await f1.manager.start()).toEqual([]);
    await waitFor(() => !isAlive(lone.pid), 5_000, 'half-spawned session stopped');
  });
});
