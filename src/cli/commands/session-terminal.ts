/**
 * `hapi attach [<session>] [--read-only] [--machine <m>]`: this terminal becomes a viewer of a
 * session's terminal, on this machine or through the hub.
 * `hapi screen <session> [--ansi]` and `hapi send <session> <text> [--enter]`: look at and type
 * into a session's terminal without taking over a terminal (scripts, checks): on this machine,
 * or with `--machine` on any machine of the hub (an id, a unique id prefix or the name).
 */
import type { Command } from 'commander';

export function registerSessionTerminalCommands(program: Command): void {
  program
    .command('attach')
    .description("attach this terminal to a session's terminal (detach with Ctrl-\\, or HAPI_DETACH_KEY)")
    .argument('[session]', 'session id, unique id prefix, or PID-<n>; default: the live session in this directory, else a list to choose from')
    .option('--read-only', 'watch only: keys (except the detach key) and window size are not sent')
    .option('--machine <machine>', 'a machine of the hub (id, unique id prefix or name): attach through the hub (the session is then required)')
    .action(async (session: string | undefined, opts: { readOnly?: boolean; machine?: string }) => {
      if (opts.machine !== undefined) {
        const { attachRemote } = await import('./hub-remote.js');
        process.exitCode = await attachRemote(session, { machine: opts.machine, readOnly: opts.readOnly === true });
        return;
      }
      const { runAttachCommand } = await import('../../session/attach/index.js');
      process.exitCode = await runAttachCommand({ session, readOnly: opts.readOnly === true });
    });
  program
    .command('screen')
    .description("print a session's current screen (an id, a unique id prefix or PID-<n>); an ended session's final one")
    .argument('<session>', 'session id, unique id prefix, or PID-<n>')
    .option('--ansi', 'with colours and attributes, as ANSI sequences')
    .option('--machine <machine>', 'a machine of the hub (id, unique id prefix or name): ask through the hub')
    .action(async (session: string, opts: { ansi?: boolean; machine?: string }) => {
      if (opts.machine !== undefined) return (await import('./hub-remote.js')).screenRemote(session, { ...opts, machine: opts.machine });
      const { sessionScreen } = await import('../../session/session-client.js');
      const { id, screen, ended } = await sessionScreen(session);
      if (screen) process.stdout.write(`${opts.ansi ? screen.ansi : screen.text.replace(/\n+$/, '')}\n`);
      if (ended) {
        const s = ended.exitStatus;
        process.stderr.write(`[session ${id} ended${s ? `: ${s.exitSignal ? `killed by ${s.exitSignal}` : `exit code ${s.exitCode}`}` : ''}]\n`);
      }
    });
  program
    .command('send')
    .description("type text into a session's terminal (as a bracketed paste when the program enabled it)")
    .argument('<session>', 'session id, unique id prefix, or PID-<n>')
    .argument('<text>', 'the text to type')
    .option('--enter', 'then press Enter')
    .option('--machine <machine>', 'a machine of the hub (id, unique id prefix or name): type through the hub')
    .action(async (session: string, text: string, opts: { enter?: boolean; machine?: string }) => {
      if (opts.machine !== undefined) return (await import('./hub-remote.js')).sendRemote(session, text, { ...opts, machine: opts.machine });
      const { callSession } = await import('../../session/session-client.js');
      await callSession(session, (c, signal) => c.sendInput({ text, enter: opts.enter === true }, { signal }));
    });
}
