/**
 * `hapi up`: hapi on its embedded default. Starts a hub in this process (SQLite in HAPI_HOME),
 * makes sure this machine's runner runs and is connected to it with the owner token, prints
 * what to open or run next, and on Ctrl+C stops what it started (the hub, and the runner if it
 * started it). Sessions keep running.
 */
import { readFileSync } from 'node:fs';
import { writeJsonAtomic } from '../../shared/atomic-file.js';
import { FailedPreconditionError } from '../../shared/errors.js';
import { readAuthFile } from '../../shared/hub-client.js';
import { hubLogger, startLocalHub } from '../../hub/serve.js';

export async function up(): Promise<number> {
  let resolveStop: ((why: string) => void) | undefined;
  const early: string[] = [];
  const onSignal = (sig: NodeJS.Signals) => (resolveStop ? resolveStop(`signal ${sig}`) : early.push(sig));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const log = hubLogger('hapi-up');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const running = await startLocalHub({ log, out });
  const { hub, paths } = running;
  let startedRunner = false;
  try {
    const ownerToken = readFileSync(paths.hubOwnerTokenFile, 'utf8').trim();
    if (!ownerToken) throw new FailedPreconditionError(`owner token file ${paths.hubOwnerTokenFile} is empty`);
    const owner = hub.core.authenticate(ownerToken);
    if (!readAuthFile(paths)) {
      writeJsonAtomic(paths.authFile, { hubUrl: hub.grpcUrl, token: ownerToken }, 0o600);
      out(`saved this hub and the owner token for hapi commands in ${paths.authFile}`);
    }
    const env = { ...process.env, HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: ownerToken };
    const { startRunner } = await import('../../runner/client/start.js');
    // A runner from before that is local only or linked elsewhere is replaced by one linked to
    // this hub; its sessions keep running and the new runner re-adopts them.
    const started = await startRunner({
      env,
      hubUrl: hub.grpcUrl,
      onReplace: (pid, why) => out(`runner pid ${pid} ${why}; restarting it linked to this hub (sessions keep running)`),
    });
    startedRunner = started.outcome === 'started';
    out(`runner ${startedRunner ? 'started' : 'already running'} (pid ${started.status.pid})`);

    // Wait (bounded) for the runner to register, so we can name its machine.
    const deadline = Date.now() + 10_000;
    let machine = hub.core.listMachines(owner).find((m) => m.online && m.runnerState.pid === started.status.pid);
    while (!machine && Date.now() < deadline && early.length === 0) {
      await new Promise((r) => setTimeout(r, 100));
      machine = hub.core.listMachines(owner).find((m) => m.online && m.runnerState.pid === started.status.pid);
    }
    if (machine) out(`machine ${machine.id} (${machine.metadata.displayName}) is online`);
    else out('the runner has not registered with this hub yet; check `hapi runner status` and its log (`hapi runner logs`)');
    out('');
    out(`open ${hub.httpUrl}/ in a browser, or run:`);
    out('  hapi machines');
    out(`  hapi spawn --machine ${machine?.id ?? '<machine id>'} <directory>`);
    out('Ctrl+C stops the hub' + (startedRunner ? ' and the runner it started' : '') + ' (sessions keep running).');

    const why = await new Promise<string>((resolve) => {
      resolveStop = resolve;
      if (early.length) resolve(`signal ${early[0]}`);
    });
    log.info({ reason: why }, 'stopping');
    return 0;
  } finally {
    if (startedRunner) {
      const { stopRunnerProcess } = await import('../../runner/client/stop.js');
      await stopRunnerProcess({ reason: 'cli' }).catch((err: unknown) => log.warn({ err }, 'stopping the runner failed'));
    }
    await running.stop('hapi up stopped');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
