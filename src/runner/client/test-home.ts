/**
 * Test support for the client's unit tests: a temporary HAPI_HOME with helpers that leave the
 * files a runner leaves behind (state, lock, socket), and processes that are dead, alive, or
 * whose PID was reused. No runner daemon is started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hapiPaths, type HapiPaths } from '../../shared/paths.js';
import { processStartTime } from '../../shared/proc.js';
import type { LockOwner } from '../lifecycle/runner-lock.js';
import { newRunnerState, writeStateFile } from '../lifecycle/state-file.js';

export interface ClientTestHome {
  env: Record<string, string>;
  paths: HapiPaths;
  /** Writes runner.state.json naming `pid` (with that PID's start time unless given). */
  writeState(pid: number, startTime?: string): void;
  writeLock(owner: LockOwner): void;
  /** Leaves a socket file nobody listens on, as a SIGKILLed runner does. */
  leaveDeadSocket(): Promise<void>;
  /** Listens on the socket path (a live runner's socket); closed by cleanup(). */
  listenOnSocket(): Promise<void>;
  /** A live process (not a runner); killed by cleanup(). */
  spawnLiving(): ChildProcess;
  cleanup(): Promise<void>;
}

/** The PID of a process that has already exited. */
export function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

/** A start-time token that matches no live process: this PID, "reused". */
export const REUSED_START_TIME = 'not-the-start-time';

export function createClientTestHome(): ClientTestHome {
  const home = mkdtempSync(join(tmpdir(), 'hapi-client-'));
  const env = { HAPI_HOME: home, HAPI_RUNNER_HTTP_TIMEOUT: '2000' };
  const paths = hapiPaths(env);
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  return {
    env,
    paths,
    writeState(pid, startTime) {
      const state = newRunnerState({
        pid,
        httpPort: 1,
        startedAt: new Date(),
        cliVersion: '0.0.0-test',
        cliPath: '/nowhere/hapi.cjs',
        cliMtimeMs: 1,
        runnerLogPath: join(home, 'logs', 'runner.log'),
        socketPath: paths.socket,
        controlToken: 'token',
      });
      writeStateFile(paths.stateFile, { ...state, processStartTime: startTime ?? processStartTime(pid) });
    },
    writeLock(owner) {
      writeFileSync(paths.lockFile, JSON.stringify(owner), { mode: 0o600 });
    },
    async leaveDeadSocket() {
      // A child binds the socket and is SIGKILLed: the file stays, nobody listens.
      const script = `require('net').createServer().listen(${JSON.stringify(paths.socket)}, () => process.stdout.write('up'))`;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
    async listenOnSocket() {
      const server = createServer((c) => c.destroy());
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(paths.socket, resolve));
    },
    spawnLiving() {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' });
      children.push(child);
      return child;
    },
    async cleanup() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      rmSync(home, { recursive: true, force: true });
    },
  };
}
