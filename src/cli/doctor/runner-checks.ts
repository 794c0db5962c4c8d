/**
 * `hapi doctor`'s runner checks: running and answering; socket, state and lock files telling
 * the same story (and stale ones left by a dead runner, reported, never removed here); failing
 * log writes. They only look: fixing is left to the commands they name.
 */
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import type { GetStatusResponse } from '../../contract/runner.js';
import { probeRunner } from '../../runner/client/connect.js';
import { probeSocket } from '../../runner/control-socket.js';
import { isLockOwnerAlive, readLockOwner } from '../../runner/lifecycle/runner-lock.js';
import { readStateFile } from '../../runner/lifecycle/state-file.js';
import type { HapiPaths } from '../../shared/paths.js';
import { isSameProcess } from '../../shared/proc.js';
import { check, type CheckResult } from './check.js';

const RESTART = 'hapi runner stop && hapi runner start';
/** Below this much free space where logs go, writes are about to fail. */
const LOW_SPACE_BYTES = 50 * 1024 * 1024;

export interface RunnerFindings {
  results: CheckResult[];
  /** The runner's status when it answered. */
  status?: GetStatusResponse;
}

export async function runnerChecks(paths: HapiPaths, timeoutMs: number): Promise<RunnerFindings> {
  const status = await probeRunner(paths, timeoutMs);
  const state = readStateFile(paths.stateFile);
  const lock = readLockOwner(paths.lockFile);
  const lockAlive = typeof lock === 'object' && isLockOwnerAlive(lock);
  const results: CheckResult[] = [];

  if (status) {
    results.push(
      status.ready
        ? check('runner', 'runner', 'ok', `running, PID ${status.pid}, answering on ${paths.socket}`)
        : check('runner', 'runner', 'warn', `PID ${status.pid} answers on ${paths.socket} but is still starting (or shutting down)`, 'hapi runner status'),
    );
  } else if (lockAlive) {
    results.push(
      check('runner', 'runner', 'fail', `PID ${lock.pid} holds the runner lock but does not answer on ${paths.socket} within ${timeoutMs} ms (stuck or stopped)`, RESTART),
    );
  } else {
    results.push(check('runner', 'runner', 'fail', 'the runner is not running: sessions cannot be started here, nor from the hub', 'hapi runner start'));
  }

  // Socket, state and lock: one live runner owns all three, or none exists.
  const problems: string[] = [];
  const stale: string[] = [];
  if (status) {
    if (state.kind !== 'ok') problems.push(`${paths.stateFile} is ${state.kind}`);
    else if (state.state.pid !== status.pid) problems.push(`${paths.stateFile} names PID ${state.state.pid}, but PID ${status.pid} answers`);
    else if (state.state.socketPath !== paths.socket) problems.push(`${paths.stateFile} names socket ${state.state.socketPath}, expected ${paths.socket}`);
    if (typeof lock !== 'object') problems.push(`the lock ${paths.lockFile} is ${lock}`);
    else if (lock.pid !== status.pid) problems.push(`the lock ${paths.lockFile} names PID ${lock.pid}, but PID ${status.pid} answers`);
  } else {
    if (state.kind === 'ok' && !isSameProcess(state.state.pid, state.state.processStartTime)) stale.push(`state file of dead runner PID ${state.state.pid} (${paths.stateFile})`);
    if (state.kind === 'corrupt') stale.push(`unreadable state file ${paths.stateFile} (${state.error})`);
    if (typeof lock === 'object' && !lockAlive) stale.push(`lock of dead runner PID ${lock.pid} (${paths.lockFile})`);
    if (lock === 'unreadable') stale.push(`unreadable lock ${paths.lockFile}`);
    if (existsSync(paths.socket) && !lockAlive && !(await probeSocket(paths.socket))) stale.push(`socket nobody listens on (${paths.socket})`);
  }
  if (problems.length) {
    results.push(check('runner-files', 'runner files', 'fail', `socket, state and lock disagree: ${problems.join('; ')}`, RESTART));
  } else if (stale.length) {
    results.push(
      check('runner-files', 'runner files', 'warn', `left by a runner that died: ${stale.join('; ')}`, '`hapi runner status` removes them (and `hapi runner start` takes over)'),
    );
  } else {
    results.push(check('runner-files', 'runner files', 'ok', status ? 'socket, state file and lock belong to the running runner' : 'no runner files left behind'));
  }

  results.push(logWrites(paths, status));
  return { results, status };
}

function logWrites(paths: HapiPaths, status: GetStatusResponse | undefined): CheckResult {
  const w = status?.logWrites;
  const df = `df -h ${paths.logsDir}`;
  if (w?.failing) {
    return check('log-writes', 'log writes', 'fail', `the runner cannot write its log (${w.lastError || 'error'}; ${w.droppedLines} lines dropped): ${status!.logPath}`, `free space where the logs are (${df}), then check again`);
  }
  if (w && w.droppedLines > 0) {
    return check('log-writes', 'log writes', 'warn', `${w.droppedLines} log lines were dropped earlier (${w.lastError || 'error'}); writes work again`, df);
  }
  const dir = existsSync(paths.logsDir) ? paths.logsDir : paths.home;
  try {
    if (existsSync(dir)) accessSync(dir, constants.W_OK);
  } catch {
    return check('log-writes', 'log writes', 'fail', `${dir} is not writable: the runner cannot log there`, `chmod u+w ${dir}`);
  }
  try {
    const fs = statfsSync(existsSync(dir) ? dir : '/');
    const free = fs.bavail * fs.bsize;
    if (free < LOW_SPACE_BYTES) return check('log-writes', 'log writes', 'warn', `only ${Math.round(free / 1024 / 1024)} MB free where the logs go (${dir})`, df);
  } catch {
    // statfs unsupported here: the write check above is what we know
  }
  return check('log-writes', 'log writes', 'ok', status ? 'the runner\'s log writes succeed' : `${dir} is writable`);
}
