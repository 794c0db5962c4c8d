/**
 * Integration-test harness: a temporary HAPI_HOME per test, helpers to run the built CLI
 * (dist/hapi.cjs) as real processes, and a cleanup that kills every process started for that
 * home (anything whose environment carries HAPI_HOME=<home>, found via /proc), even when the
 * test failed.
 */
import type { RunnerStateFile } from '../src/runner/lifecycle/state-file.js';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(REPO_ROOT, 'dist', 'hapi.cjs');
export const FIXTURE_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'agent.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface TestHome {
  home: string;
  /** Environment for processes of this home (HAPI_HOME set, hub disabled unless asked). */
  env: NodeJS.ProcessEnv;
  /** Runs `node dist/hapi.cjs ...args` to completion. */
  cli(args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string; cliPath?: string }): Promise<CliResult>;
  /** Starts a long-lived CLI process (tracked; killed by cleanup). */
  spawnCli(args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string; cliPath?: string } & SpawnOptions): ChildProcess;
  /** Reads runner.state.json (undefined when missing or corrupt). */
  state(): RunnerStateFile | undefined;
  /** Kills every process of this home and removes the directory. Idempotent. */
  cleanup(): Promise<void>;
}

/** The state file as the runner writes it (read as written: tests check its exact fields). */
export type { RunnerStateFile } from '../src/runner/lifecycle/state-file.js';

const homes = new Set<TestHome>();

export function createTestHome(extraEnv: NodeJS.ProcessEnv = {}): TestHome {
  const home = realpathSync(mkdtempSync(join(tmpdir(), 'hapi-t-')));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HAPI_HOME: home,
    // Point the hub link at a port nothing listens on unless a test sets its own.
    HAPI_API_URL: process.env.HAPI_TEST_API_URL ?? 'http://127.0.0.1:1',
    CLI_API_TOKEN: '',
    HAPI_LOG_LEVEL: 'debug',
    NO_COLOR: '1',
    ...extraEnv,
  };
  const children = new Set<ChildProcess>();
  let cleaned = false;

  const th: TestHome = {
    home,
    env,
    cli(args, opts = {}) {
      return new Promise((resolvePromise, reject) => {
        const child = spawn(process.execPath, [opts.cliPath ?? CLI, ...args], {
          env: { ...env, ...opts.env },
          cwd: opts.cwd ?? home,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        children.add(child);
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d) => (stdout += d));
        child.stderr!.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
        child.on('error', reject);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          children.delete(child);
          resolvePromise({ code, signal, stdout, stderr });
        });
        child.stdin!.end(opts.input ?? '');
      });
    },
    spawnCli(args, opts = {}) {
      const { env: extra, cliPath, ...rest } = opts;
      const child = spawn(process.execPath, [cliPath ?? CLI, ...args], {
        cwd: home,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...rest,
        env: { ...env, ...extra },
      });
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    state() {
      try {
        return JSON.parse(readFileSync(join(home, 'runner.state.json'), 'utf8')) as RunnerStateFile;
      } catch {
        return undefined;
      }
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      for (const child of children) child.kill('SIGKILL');
      await killProcessesOfHome(home);
      rmSync(home, { recursive: true, force: true });
      homes.delete(th);
    },
  };
  homes.add(th);
  return th;
}

/**
 * A private copy of the build at `<home>/cli` (so touching or breaking it affects one test
 * only); returns the copy's hapi.cjs. Native addons (node-pty, better-sqlite3) stay external in
 * the build: the copy finds them, as an installed hapi does, in a node_modules above it.
 */
export function copyBuild(home: string): string {
  const copy = join(home, 'cli');
  mkdirSync(copy);
  cpSync(join(REPO_ROOT, 'dist'), copy, { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(home, 'node_modules'));
  return join(copy, 'hapi.cjs');
}

/** PIDs of every process whose environment has HAPI_HOME=<home>. */
export function processesOfHome(home: string): number[] {
  const needle = `HAPI_HOME=${home}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (environ.split('\0').includes(needle)) pids.push(pid);
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

/** SIGKILLs every process of a home (process groups too) and waits until they are gone. */
export async function killProcessesOfHome(home: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = processesOfHome(home);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sleep(20);
  }
}

/** Cleans up every home still registered (call from afterAll as a safety net). */
export async function cleanupAllHomes(): Promise<void> {
  await Promise.all([...homes].map((h) => h.cleanup()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value or the timeout passes (then throws). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 15_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(25);
  }
}

/** True when the process exists and is not a zombie (an exited child nobody reaped yet). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
