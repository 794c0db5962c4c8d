/**
 * `hapi hook <event> [--source s]`: run by an agent's hooks inside a hapi session (see
 * src/session/activity/hook-command.ts). Not meant to be typed by people.
 */
import type { Command } from 'commander';

export function registerHookCommand(program: Command): void {
  program
    .command('hook', { hidden: true })
    .description("used by an agent's hooks in a hapi session: tell the session what the agent does (reads the hook JSON on stdin)")
    .argument('<event>', 'user-prompt-submit, post-tool-use, stop, notification or permission-request')
    .option('--source <source>', 'claude-hooks or codex-hooks', 'claude-hooks')
    .action(async (event: string, opts: { source: string }) => {
      const { runHook } = await import('../../session/activity/hook-command.js');
      process.exitCode = await runHook(event, { source: opts.source });
    });
}
