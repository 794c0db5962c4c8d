/**
 * Registers every subcommand. Each area registers its own commands; implementations are
 * imported lazily in the actions so a command loads only the modules it uses.
 */
import type { Command } from 'commander';
import { registerRunnerCommands } from './runner.js';
import { registerSessionCommand } from './session.js';
import { registerHubCommands } from './hub.js';
import { registerSessionTerminalCommands } from './session-terminal.js';

export function registerCommands(program: Command): void {
  registerSessionCommand(program);
  registerRunnerCommands(program);
  registerSessionTerminalCommands(program);
  registerHubCommands(program);
  program.addHelpText(
    'after',
    `
Run \`hapi\` with no command to start an agent session in the current directory.`,
  );
}
