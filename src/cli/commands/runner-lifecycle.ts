/**
 * `hapi runner start`, `start-sync`, `stop`. With a service installed for this HAPI_HOME
 * (`hapi runner install-service`), start and stop act through the service manager and say so.
 */
import { startRunner } from '../../runner/client/start.js';
import { stopRunnerProcess } from '../../runner/client/stop.js';
import { signalReadyAndAwaitGo } from '../../runner/lifecycle/takeover.js';
import { installedService } from '../../runner/service/service-control.js';
import { startThroughService, stopThroughService } from '../../runner/service/service-runner.js';
import { InvalidArgumentError, UnavailableError } from '../../shared/errors.js';

const note = (text: string) => process.stdout.write(`  $ ${text}\n`);

export async function start(opts: { workspaceRoot: string[]; handoffFrom?: string }): Promise<void> {
  // A hand-off from a runner outside any service stays as it is (lifecycle/handoff.ts).
  const service = opts.handoffFrom === undefined ? installedService() : undefined;
  if (service) {
    if (opts.workspaceRoot.length > 0) {
      throw new InvalidArgumentError(`the runner runs under ${service.kind} (${service.file}): give --workspace-root to \`hapi runner install-service\` instead`);
    }
    process.stdout.write(`The runner is managed by ${service.kind} (${service.name}); starting it through ${service.kind}:\n`);
    const r = await startThroughService(service, { onCommand: note });
    if (r.replacedPid) process.stdout.write(`Stopped runner PID ${r.replacedPid}, which ran outside the service (its sessions keep running)\n`);
    process.stdout.write(`Runner ${r.alreadyRunning ? 'already running' : 'started'} under ${service.kind} (PID ${r.status.pid})\n`);
    return;
  }
  const result = await startRunner({
    workspaceRoots: opts.workspaceRoot,
    handoffFrom: opts.handoffFrom === undefined ? undefined : Number(opts.handoffFrom),
    onReplace: (pid, why) => process.stderr.write(`Runner PID ${pid} ${why}; stopping it first\n`),
  });
  const s = result.status;
  if (result.outcome === 'already-running') {
    process.stdout.write(`Runner already running (PID ${s.pid})\n`);
    return;
  }
  process.stdout.write(
    `Runner started (PID ${s.pid})${result.replacedPid ? `, replacing PID ${result.replacedPid}` : ''}\n` +
      `  Socket:            ${s.socketPath}\n` +
      `  HTTP control port: ${s.httpPort}\n` +
      `  Log:               ${s.logPath}\n`,
  );
}

export async function startSync(opts: { workspaceRoot: string[]; candidate?: boolean }): Promise<void> {
  // A build whose daemon cannot load fails here, before a candidate announces itself ready.
  const { runRunner, preflightRunner } = await import('../../runner/daemon.js');
  if (opts.candidate) {
    // Replacing a running runner: prove this build can run, then wait for the old one to stop.
    await preflightRunner();
    await signalReadyAndAwaitGo();
  }
  process.exitCode = await runRunner({ workspaceRoots: opts.workspaceRoot, foreground: true });
}

export async function stop(): Promise<void> {
  const service = installedService();
  if (service) {
    const r = await stopThroughService(service, { onCommand: note });
    if (r.throughManager) {
      process.stdout.write(
        `Runner stopped through ${service.kind} (${service.name})${r.pid ? `, PID ${r.pid}` : ''}; it stays stopped until \`hapi runner start\` or the next ${service.kind === 'systemd' ? 'boot' : 'login'}\n`,
      );
    } else if (r.pid) {
      process.stdout.write(`Runner stopped (PID ${r.pid}); it ran outside the ${service.kind} service ${service.name}, which is not active\n`);
    } else {
      throw new UnavailableError(`runner is not running (the ${service.kind} service ${service.name} is not active)`);
    }
    return;
  }
  const out = await stopRunnerProcess();
  const how = out.how === 'graceful' ? '' : ` (forced with ${out.how.toUpperCase()})`;
  process.stdout.write(`Runner stopped (PID ${out.pid})${how}\n`);
}
