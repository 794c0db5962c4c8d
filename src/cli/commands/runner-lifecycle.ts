/** `hapi runner start`, `start-sync`, `stop`. */
import { startRunner } from '../../runner/client/start.js';
import { stopRunnerProcess } from '../../runner/client/stop.js';
import { signalReadyAndAwaitGo } from '../../runner/lifecycle/takeover.js';

export async function start(opts: { workspaceRoot: string[]; handoffFrom?: string }): Promise<void> {
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
  const out = await stopRunnerProcess();
  const how = out.how === 'graceful' ? '' : ` (forced with ${out.how.toUpperCase()})`;
  process.stdout.write(`Runner stopped (PID ${out.pid})${how}\n`);
}
