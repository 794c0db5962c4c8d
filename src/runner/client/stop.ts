/**
 * Implements "Stop Runner" of the runner documentation, client side: `hapi runner stop` asks
 * for a graceful stop over gRPC, then SIGTERM, then SIGKILL; sessions are never touched.
 */
import { clientConfig, type Env } from '../../shared/config.js';
import { UnavailableError, isHapiError } from '../../shared/errors.js';
import { hapiPaths, type HapiPaths } from '../../shared/paths.js';
import { signalProcess, waitForExit } from '../../shared/proc.js';
import { readLockOwner } from '../lifecycle/runner-lock.js';
import { probeRunner, withRunner } from './connect.js';
import { inspectAndCleanStale } from './stale.js';

export interface StopOutcome {
  pid: number;
  how: 'graceful' | 'sigterm' | 'sigkill';
}

/**
 * `hapi runner stop`: graceful stop over gRPC; if the runner has not exited within
 * HAPI_RUNNER_HTTP_TIMEOUT, SIGTERM, then SIGKILL. Sessions are never touched.
 */
export async function stopRunnerProcess(opts: { env?: Env; reason?: string } = {}): Promise<StopOutcome> {
  const env = opts.env ?? process.env;
  const paths = hapiPaths(env);
  const timeoutMs = clientConfig(env).httpTimeoutMs;
  const status = await probeRunner(paths, timeoutMs);
  if (!status) {
    const stale = await inspectAndCleanStale(paths);
    if (stale.kind === 'alive-not-answering') {
      return forceStop(paths, stale.pid, timeoutMs);
    }
    throw new UnavailableError(stale.kind === 'stale-cleaned' ? `runner is not running (removed stale files of dead runner${stale.pid ? ` PID ${stale.pid}` : ''})` : 'runner is not running');
  }
  const lock = readLockOwner(paths.lockFile);
  const startTime = typeof lock === 'object' && lock.pid === status.pid ? lock.startTime : undefined;
  await withRunner((c, signal) => c.stopRunner({ reason: opts.reason ?? 'cli' }, { signal }), { env, timeoutMs }).catch((err) => {
    // The runner may exit before it answers; that is a success.
    if (!(isHapiError(err) && err.kind === 'Unavailable')) throw err;
  });
  if (await waitForExit(status.pid, timeoutMs, startTime)) return { pid: status.pid, how: 'graceful' };
  return forceStop(paths, status.pid, timeoutMs, startTime);
}

async function forceStop(paths: HapiPaths, pid: number, timeoutMs: number, startTime?: string): Promise<StopOutcome> {
  signalProcess(pid, 'SIGTERM');
  let how: StopOutcome['how'] = 'sigterm';
  if (!(await waitForExit(pid, Math.min(timeoutMs, 5_000), startTime))) {
    signalProcess(pid, 'SIGKILL');
    how = 'sigkill';
    await waitForExit(pid, 5_000, startTime);
  }
  await inspectAndCleanStale(paths);
  return { pid, how };
}
