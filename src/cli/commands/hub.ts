/** `hapi hub`, `hapi hub token ...`, `hapi auth ...`, `hapi up`, and the thin commands over HubService. */
import type { Command } from 'commander';
import { registerLogsCommand } from './runner.js';

interface SpawnCliOptions {
  machine: string;
  agent?: string;
  prompt?: string;
  approve?: boolean;
  worktree?: string | boolean;
  json?: boolean;
}

export function registerHubCommands(program: Command): void {
  const hub = program
    .command('hub')
    .description('run the hub in the foreground (gRPC for runners and clients, HTTP for the REST view)')
    .action(async () => {
      process.exitCode = await (await import('../../hub/serve.js')).serveHub();
    });

  registerLogsCommand(hub, 'hub');

  const token = hub.command('token').description('manage namespace tokens (needs the owner token)');
  token
    .command('create')
    .description('mint a token for a namespace (printed once)')
    .requiredOption('--namespace <ns>', 'namespace the token belongs to')
    .option('--label <text>', 'free text shown in listings', '')
    .option('--read-only', 'the token can list and watch, but not start or stop anything')
    .option('--json', 'print JSON')
    .action(async (opts: { namespace: string; label: string; readOnly?: boolean; json?: boolean }) => (await import('./hub-token.js')).create(opts));
  token
    .command('owner')
    .description("print this machine's hub owner token (from $HAPI_HOME/hub-owner-token, written when the hub made it)")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => (await import('./hub-token.js')).owner(opts));
  token
    .command('sign-in-link')
    .description("a one-time link (10 min) that signs a browser in to the hub's web page with this CLI's token (never the token in the URL)")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => (await import('./hub-token.js')).signInLink(opts));
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => (await import('./hub-token.js')).list(opts));
  token
    .command('revoke')
    .description('revoke a token; its open streams are closed')
    .argument('<tokenId>', 'id from `hapi hub token list`')
    .action(async (id: string) => (await import('./hub-token.js')).revoke(id));

  const auth = program.command('auth').description('log in to a hub');
  auth
    .command('login')
    .description('verify a token with the hub and save it (with the hub URL) for this HAPI_HOME')
    .option('--hub <url>', 'hub gRPC URL, e.g. https://hub.example.com (default: HAPI_API_URL or the local hub)')
    .option('--token <token>', 'token (default: CLI_API_TOKEN)')
    .action(async (opts: { hub?: string; token?: string }) => (await import('./auth.js')).login(opts));
  auth
    .command('status')
    .description('show which hub and namespace this machine uses and whether the token is accepted')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => (await import('./auth.js')).status(opts));
  auth
    .command('logout')
    .description('forget the saved hub URL and token')
    .action(async () => (await import('./auth.js')).logout());

  program
    .command('machines')
    .description("list your namespace's machines on the hub")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => (await import('./hub-remote.js')).machines(opts));
  program
    .command('sessions')
    .description("list your namespace's sessions on the hub")
    .option('--machine <machine>', 'only this machine: id, unique id prefix or name')
    .option('--all', 'include ended sessions')
    .option('--json', 'print JSON')
    .action(async (opts: { machine?: string; all?: boolean; json?: boolean }) => (await import('./hub-remote.js')).sessions(opts));
  program
    .command('spawn')
    .description('start a session on a machine through the hub')
    .requiredOption('--machine <machine>', 'machine id, unique id prefix or name (see `hapi machines`)')
    .argument('<directory>', 'directory on that machine')
    .argument('[agentArgs...]', 'arguments passed to the agent, after -- (e.g. -- --model opus)')
    .option('--agent <name>', 'agent to run (default: claude)')
    .option(
      '--prompt <text>',
      "the agent's first input, its task: an argument for agents that take one (claude, codex), else typed into its terminal once its screen settles (settings.json promptMode)",
    )
    .option('--approve', 'create the directory if it does not exist')
    .option('--worktree [branch]', 'run in a new git worktree (optional branch name)')
    .option('--json', 'print JSON')
    .action(async (directory: string, agentArgs: string[], opts: SpawnCliOptions) => (await import('./hub-remote.js')).spawn(directory, agentArgs, opts));
  program
    .command('stop')
    .description('stop a session on a machine through the hub')
    .option('--machine <machine>', 'machine id, unique id prefix or name (default: whichever machine has the session)')
    .argument('<session>', 'session id or unique id prefix')
    .option('--json', 'print JSON')
    .action(async (session: string, opts: { machine?: string; json?: boolean }) => (await import('./hub-remote.js')).stop(session, opts));

  program
    .command('up')
    .description('run hapi on its embedded default: a local hub plus this machine\'s runner connected to it (Ctrl+C stops both)')
    .option('--host <addr>', 'address the hub listens on (default 127.0.0.1; 0.0.0.0 or a LAN address for phones: TLS from a private CA)')
    .option('--tls', 'serve TLS with the hub\'s private CA even on loopback')
    .option('--no-tls', 'no TLS even off loopback (behind a TLS-terminating proxy on this machine)')
    .action(async (opts: { host?: string; tls?: boolean }) => {
      process.exitCode = await (await import('./up.js')).up(opts);
    });
}
