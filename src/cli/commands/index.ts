/**
 * Registers every subcommand. Each command's implementation is imported lazily in its action,
 * so parsing stays cheap and a command only loads the modules it uses.
 */
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  program.addHelpText(
    'after',
    `
Run \`hapi\` with no command to start an agent session in the current directory.
Documentation: README.md in the hapi repository.`,
  );
}
