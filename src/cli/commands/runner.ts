/** `hapi runner start|start-sync|stop|install-service|uninstall-service|status|list|stop-session|logs|reset-machine-id`. */
import { Option, type Command } from 'commander';

const collect = (value: string, previous: string[]) => [...previous, value];

/** `hapi runner logs` / `hapi hub logs`. */
export function registerLogsCommand(parent: Command, program: 'runner' | 'hub'): void {
  parent
    .command('logs')
    .description(`the newest ${program} log: its path (tail -f $(hapi ${program} logs)), or its last lines with -n, --follow or --pretty`)
    .option('-n, --lines <n>', 'print the last <n> lines (default 10 with --follow or --pretty)')
    .option('-f, --follow', 'keep printing new lines (and those of a newer log after a restart) until Ctrl+C')
    .option('--pretty', 'human-readable lines (pino-pretty) instead of JSON')
    .action(async (opts: { lines?: string; follow?: boolean; pretty?: boolean }) => (await import('./logs.js')).logs(program, opts));
}

export function registerRunnerCommands(program: Command): void {
  const runner = program.command('runner').description('manage the background runner daemon of this machine');

  runner
    .command('start')
    .description('start the runner in the background (returns once it answers)')
    .option('--workspace-root <dir>', 'only allow sessions under this directory (repeatable)', collect, [])
    // Used by the version hand-off (src/runner/lifecycle/handoff.ts): replace that runner only.
    .addOption(new Option('--handoff-from <pid>', 'only replace this runner; start none if it is gone').hideHelp())
    .action(async (opts: { workspaceRoot: string[]; handoffFrom?: string }) => (await import('./runner-lifecycle.js')).start(opts));

  runner
    .command('start-sync')
    .description('run the runner in the foreground (for systemd/launchd and debugging)')
    .option('--workspace-root <dir>', 'only allow sessions under this directory (repeatable)', collect, [])
    // Used by `runner start` when it replaces a running runner (src/runner/lifecycle/takeover.ts).
    .addOption(new Option('--candidate', 'pass the self-check, then wait on stdin before taking over').hideHelp())
    .action(async (opts: { workspaceRoot: string[]; candidate?: boolean }) => (await import('./runner-lifecycle.js')).startSync(opts));

  runner
    .command('stop')
    .description('stop the runner gracefully (sessions keep running)')
    .action(async () => (await import('./runner-lifecycle.js')).stop());

  runner
    .command('install-service')
    .description('run the runner at boot/login under systemd (user unit) or launchd (LaunchAgent)')
    .option('--print', 'print the unit or plist instead of installing it')
    .option('--manager <name>', 'systemd or launchd (default: launchd on macOS, systemd elsewhere)')
    .option('--workspace-root <dir>', 'only allow sessions under this directory (repeatable)', collect, [])
    .action(async (opts: { print?: boolean; manager?: string; workspaceRoot: string[] }) => (await import('./runner-service.js')).installService(opts));

  runner
    .command('uninstall-service')
    .description('stop and remove the runner service (sessions keep running)')
    .option('--manager <name>', 'systemd or launchd (default: the one installed)')
    .action(async (opts: { manager?: string }) => (await import('./runner-service.js')).uninstallService(opts));

  runner
    .command('status')
    .description('show runner diagnostics')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => (await import('./runner-status.js')).status(opts));

  runner
    .command('list')
    .description('list the sessions the runner tracks')
    .option('--json', 'print JSON with directory, agent, start time, viewers and last output')
    .option('--all', 'also list the ended sessions the runner keeps (HAPI_ENDED_SESSION_KEEP_MS)')
    .action(async (opts: { json?: boolean; all?: boolean }) => (await import('./runner-sessions.js')).list(opts));

  runner
    .command('stop-session')
    .description('stop one session by id, unique id prefix, or PID as PID-<n>')
    .argument('<session>', 'session id, unique id prefix, or PID-<n>')
    .action(async (id: string) => (await import('./runner-sessions.js')).stopSession(id));

  registerLogsCommand(runner, 'runner');

  runner
    .command('reset-machine-id')
    .description("give this install a new machine id (after copying HAPI_HOME or cloning the machine); restart the runner to use it")
    .action(async () => (await import('./runner-machine-id.js')).resetMachineId());
}
