/**
 * Registers every subcommand. Each area registers its own commands; implementations are
 * imported lazily in the actions so a command loads only the modules it uses.
 */
import { Argument, type Command } from 'commander';
import { CLI_VERSION } from '../../shared/version.js';
import { registerRunnerCommands } from './runner.js';
import { registerSessionCommand } from './session.js';
import { registerHubCommands } from './hub.js';
import { registerSessionTerminalCommands } from './session-terminal.js';
import { registerHookCommand } from './hook.js';
import { registerApproveCommand } from './approve.js';

export function registerCommands(program: Command): void {
  registerSessionCommand(program);
  registerRunnerCommands(program);
  registerSessionTerminalCommands(program);
  registerHubCommands(program);
  registerApproveCommand(program);
  registerHookCommand(program);
  // The root has a default action (the agent session), so commander adds no `help` command by
  // itself; `hapi help [command]` and `hapi version` are what people type.
  program.helpCommand('help [command]', 'show help for hapi or for one command');
  program
    .command('version')
    .description('print the hapi version (as hapi --version)')
    .action(() => void process.stdout.write(`${CLI_VERSION}\n`));
  program
    .command('completion')
    .description('print the shell completion script: source <(hapi completion bash), hapi completion fish | source')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .action(async (shell: string) => {
      const { completionScript } = await import('../completion.js');
      process.stdout.write(completionScript(program, shell));
    });
  program
    .command('doctor')
    .description('check the runner, its files and logs, agents, native modules, the hub, the clock and the service; says how to fix each problem')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => (await import('./doctor.js')).doctor(opts));
  program.addHelpText(
    'after',
    `
Run \`hapi\` with no command to start an agent session in the current directory.
Arguments for the agent come after --:
  hapi -- --resume
  hapi --agent codex -- "fix the test"
Any other word before -- is an error (exit 2) that suggests the command you may have meant.`,
  );
}
