/**
 * Starting and stopping a runner that a service manager owns: through the manager, then waiting
 * for the runner to answer (or to be gone), as `hapi runner start`/`stop` do without one. A
 * runner running outside the service (started by hand before the install) would hold the lock
 * and make the unit fail: it is stopped first (its sessions keep running and are re-adopted).
 */
import type { GetStatusResponse } from '../../contract/runner.js';
import { clientConfig, type Env } from '../../shared/config.js';
import { FailedPreconditionError } from '../../shared/errors.js';
import { hapiPaths, type ServicePaths } from '../../shared/paths.js';
import { waitForExit } from '../../shared/proc.js';
import { probeRunner } from '../client/connect.js';
import { stopRunnerProcess } from '../client/stop.js';
import { runManager, serviceIsActive } from './service-control.js';

/** Where to read why the service's runner did not come up. */
export function serviceLogHint(paths: ServicePaths): string {
  return paths.kind === 'systemd'
    ? `see \`systemctl --user status ${paths.name}\` and \`journalctl --user -u ${paths.name}\`, and \`hapi runner logs\``
    : `see ${paths.stderrLog} and \`hapi runner logs\``;
}

export interface ServiceStart {
  status: GetStatusResponse;
  /** A runner that ran outside the service and was stopped first. */
  replacedPid?: number;
  alreadyRunning: boolean;
}

/**
 * Starts the service's runner (a no-op when the manager already runs it) and waits until it
 * answers as ready. `onCommand` sees each manager command as it runs.
 */
export async function startThroughService(paths: ServicePaths, opts: { env?: Env; onCommand?: (text: string) => void; action?: 'install' | 'start' } = {}): Promise<ServiceStart> {
  const env = opts.env ?? process.env;
  const home = hapiPaths(env);
  const timeoutMs = Math.max(clientConfig(env).httpTimeoutMs, 15_000);
  const running = await probeRunner(home, clientConfig(env).httpTimeoutMs);
  const active = await serviceIsActive(paths, env);
  if (running && active && (opts.action ?? 'start') === 'start') return { status: running, alreadyRunning: true };
  let replacedPid: number | undefined;
  if (running && !active) {
    // Outside the service: it would keep the lock, and the unit would fail to start.
    replacedPid = (await stopRunnerProcess({ env, reason: 'handoff' })).pid;
  }
  await runManager(paths, opts.action ?? 'start', { env, onCommand: opts.onCommand, hint: serviceLogHint(paths) });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = await probeRunner(home, 1_000);
    if (s?.ready) return { status: s, replacedPid, alreadyRunning: false };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new FailedPreconditionError(`${paths.kind} started ${paths.name}, but the runner did not answer on ${home.socket} within ${timeoutMs} ms; ${serviceLogHint(paths)}`);
}

/**
 * Stops the service's runner through its manager, so its restart policy does not start it again,
 * and waits for the process to exit. A runner running outside the service (the unit is not
 * active) is stopped directly. Returns the stopped PID (undefined when none ran) and how.
 */
export async function stopThroughService(paths: ServicePaths, opts: { env?: Env; onCommand?: (text: string) => void } = {}): Promise<{ pid?: number; throughManager: boolean }> {
  const env = opts.env ?? process.env;
  const home = hapiPaths(env);
  const timeoutMs = clientConfig(env).httpTimeoutMs;
  const before = await probeRunner(home, timeoutMs);
  if (!(await serviceIsActive(paths, env))) {
    if (!before) return { throughManager: false };
    return { pid: (await stopRunnerProcess({ env })).pid, throughManager: false };
  }
  await runManager(paths, 'stop', { env, onCommand: opts.onCommand, hint: serviceLogHint(paths) });
  // The manager returns once its process is gone (systemd) or after sending the signal (launchd).
  if (before && !(await waitForExit(before.pid, timeoutMs))) {
    throw new FailedPreconditionError(`runner PID ${before.pid} is still running after ${paths.kind} stopped ${paths.name}; ${serviceLogHint(paths)}`);
  }
  return { pid: before?.pid, throughManager: true };
}
