/**
 * `hapi [--agent <name>] [-- agent args...]`: a session in the current directory. It is the root
 * command's default action, so every registered subcommand (`runner`, `hub`, `auth`, ...)
 * wins when named first; any other word is an error (unknown-command.ts). The runner spawns the
 * same entry point with hidden options and the agent's arguments after `--`:
 * `--hapi-starting-mode remote --started-by runner --hapi-session-id <id> --agent <a> -- ...`.
 */
import { Option, type Command } from 'commander';
import { InvalidArgumentError } from '../../shared/errors.js';
import { splitAgentArgs, unknownCommandError, type CommandChoice } from './unknown-command.js';

interface SessionCliOptions {
  agent?: string;
  hapiStartingMode?: string;
  startedBy?: string;
  hapiSessionId?: string;
  hapiTerminalSize?: string;
}

export function registerSessionCommand(program: Command): void {
  program
    .argument('[agentArgs...]', 'arguments for the agent, after -- (hapi -- --resume)')
    .option('--agent <name>', 'agent to run: claude (default), codex, gemini, opencode, or one configured in settings.json')
    .addOption(new Option('--hapi-starting-mode <mode>').choices(['local', 'remote']).hideHelp())
    .addOption(new Option('--started-by <who>').choices(['runner', 'terminal']).hideHelp())
    .addOption(new Option('--hapi-session-id <id>').hideHelp())
    .addOption(new Option('--hapi-terminal-size <cols>x<rows>').hideHelp())
    // Subcommand options stay with their subcommand. Unknown options are let through to the
    // action only so it can refuse them with the `--` hint (checkAgentArgsAfterDashDash).
    .enablePositionalOptions()
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (agentArgs: string[], opts: SessionCliOptions, cmd: Command) => {
      checkAgentArgsAfterDashDash(agentArgs, cmd);
      const remote = opts.hapiStartingMode === 'remote';
      // In a terminal, the session runs detached and this terminal attaches to it. From a
      // script or a pipe (stdin or stdout not a terminal) the agent keeps the caller's stdin,
      // stdout and stderr: separate streams, EOF and exit on SIGTERM, which a PTY cannot give.
      if (!remote && process.stdin.isTTY && process.stdout.isTTY) {
        const { runTerminalSession } = await import('../../session/terminal-launch.js');
        process.exitCode = await runTerminalSession({ agent: opts.agent, agentArgs });
        return;
      }
      const { runSession } = await import('../../session/run-session.js');
      process.exitCode = await runSession({
        agent: opts.agent,
        agentArgs,
        startingMode: remote ? 'remote' : 'local',
        startedBy: opts.startedBy === 'runner' ? 'runner' : 'terminal',
        sessionId: opts.hapiSessionId,
        terminalSize: parseTerminalSize(opts.hapiTerminalSize),
      });
    });
}

/** `--hapi-terminal-size 120x40` (set by terminal-launch.ts). */
function parseTerminalSize(raw: string | undefined): { cols: number; rows: number } | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d{1,4})x(\d{1,4})$/.exec(raw);
  const size = m && { cols: Number(m[1]), rows: Number(m[2]) };
  if (!size || size.cols < 1 || size.rows < 1 || size.cols > 1000 || size.rows > 1000) throw new InvalidArgumentError(`invalid --hapi-terminal-size ${JSON.stringify(raw)}`);
  return size;
}

/**
 * Agent arguments come after `--`; anything the default action got before it (an unknown word
 * such as `hapi status`, or an unknown option such as `hapi --resume`) is refused, exit 2, with
 * suggestions, instead of starting an agent with it as a prompt.
 */
function checkAgentArgsAfterDashDash(agentArgs: string[], cmd: Command): void {
  const raw = (cmd as unknown as { rawArgs?: string[] }).rawArgs ?? process.argv;
  const { options, before, after } = splitAgentArgs(agentArgs, raw.slice(2));
  if (before.length === 0) return;
  throw unknownCommandError([...before, ...after], commandChoices(cmd), options);
}

/** Every command of the tree (nested ones too), for suggestions. */
function commandChoices(program: Command): CommandChoice[] {
  const out: CommandChoice[] = [];
  const walk = (c: Command, path: string[]) => {
    for (const sub of c.commands) {
      const names = [sub.name(), ...sub.aliases()];
      for (const word of names) out.push({ word, run: ['hapi', ...path, sub.name()].join(' ') });
      walk(sub, [...path, sub.name()]);
    }
  };
  walk(program, []);
  return out;
}
