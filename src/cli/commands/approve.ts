/**
 * `hapi approve <session> [<request-id>] [--deny] [--allow-session] [--message m] [--machine m]`:
 * answers an agent's approval request, on this machine (the session's own socket) or with
 * `--machine` through the hub (recorded in the session's history there).
 */
import type { Command } from 'commander';

export function registerApproveCommand(program: Command): void {
  program
    .command('approve')
    .description("answer an agent's approval request (without a request id: the only pending one)")
    .argument('<session>', 'session id, unique id prefix, or PID-<n>')
    .argument('[request-id]', 'the request (see hapi sessions / hapi runner list); default: the only pending one')
    .option('--deny', 'deny instead of allowing')
    .option('--allow-session', 'allow, and allow the same for the rest of the session (where the agent supports it)')
    .option('--message <message>', 'with --deny: what the agent is told')
    .option('--machine <machine>', 'a machine of the hub (id, unique id prefix or name): decide through the hub')
    .option('--json', 'print the answered request as JSON')
    .action(async (session: string, requestId: string | undefined, opts: ApproveOptions) => {
      const { approve } = await import('./approve-run.js');
      await approve(session, requestId, opts);
    });
}

export interface ApproveOptions {
  deny?: boolean;
  allowSession?: boolean;
  message?: string;
  machine?: string;
  json?: boolean;
}
