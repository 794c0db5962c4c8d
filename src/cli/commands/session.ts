/**
 * `hapi [--agent <name>] [agent args...]`: a session in the current directory. It is the root
 * command's default action, so every registered subcommand (`runner`, `hub`, `auth`, ...)
 * still wins when named first. The runner spawns the same entry point with hidden options:
 * `--hapi-starting-mode remote --started-by runner --hapi-session-id <id>`.
 */
import { Option, type Command } from 'commander';
import { InvalidArgumentError } from '../../shared/errors.js';

interface SessionCliOptions {
  agent?: string;
  hapiStartingMode?: string;
  startedBy?: string;
  hapiSessionId?: string;
  hapiTerminalSize?: string;
}

export function registerSessionCommand(program: Command): void {
  program
    .argument('[agentArgs...]', 'arguments passed to the agent (put them after -- if they look like hapi options)')
    .option('--agent <name>', 'agent to run: claude (default), codex, gemini, opencode, or one configured in settings.json')
    .addOption(new Option('--hapi-starting-mode <mode>').choices(['local', 'remote']).hideHelp())
    .addOption(new Option('--started-by <who>').choices(['runner', 'terminal']).hideHelp())
    .addOption(new Option('--hapi-session-id <id>').hideHelp())
    .addOption(new Option('--hapi-terminal-size <cols>x<rows>').hideHelp())
    // Subcommand options stay with their subcommand, and anything after the first agent
    // argument (including unknown options such as --model) goes to the agent untouched.
    .enablePositionalOptions()
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (agentArgs: string[], opts: SessionCliOptions, cmd: Command) => {
      checkNotATypo(agentArgs, cmd);
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
 * `hapi runer list` would otherwise start an agent with the prompt "runer list". A first
 * argument one or two edits away from a subcommand is refused with a suggestion; `hapi --
 * runer` still passes it to the agent.
 */
function checkNotATypo(agentArgs: string[], cmd: Command): void {
  const first = agentArgs[0];
  if (!first || !/^[a-z][a-z-]{2,}$/.test(first)) return;
  const raw = (cmd as unknown as { rawArgs?: string[] }).rawArgs ?? process.argv;
  const at = raw.indexOf(first);
  if (at > 0 && raw.slice(0, at).includes('--')) return;
  for (const sub of cmd.commands) {
    const name = sub.name();
    // Short names tolerate one edit only, or ordinary words would collide ("hug" vs "hub").
    const allowed = name.length <= 4 ? 1 : 2;
    if (name !== first && editDistance(name, first) <= allowed) {
      throw new InvalidArgumentError(`unknown command '${first}'; did you mean '${name}'? (to pass it to the agent: hapi -- ${first})`);
    }
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
