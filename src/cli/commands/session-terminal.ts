/**
 * `hapi screen <session> [--ansi]` and `hapi send <session> <text> [--enter]`: look at and type
 * into a session's terminal on this machine without taking over a terminal (scripts, checks).
 */
import type { Command } from 'commander';

export function registerSessionTerminalCommands(program: Command): void {
  program
    .command('screen')
    .description("print a session's current screen (an id, a unique id prefix or PID-<n>)")
    .argument('<session>', 'session id, unique id prefix, or PID-<n>')
    .option('--ansi', 'with colours and attributes, as ANSI sequences')
    .action(async (session: string, opts: { ansi?: boolean }) => {
      const { callSession } = await import('../../session/session-client.js');
      const screen = await callSession(session, (c, signal) => c.getScreen({}, { signal }));
      const text = opts.ansi ? screen.ansi : screen.text.replace(/\n+$/, '');
      process.stdout.write(`${text}\n`);
    });
  program
    .command('send')
    .description("type text into a session's terminal (as a bracketed paste when the program enabled it)")
    .argument('<session>', 'session id, unique id prefix, or PID-<n>')
    .argument('<text>', 'the text to type')
    .option('--enter', 'then press Enter')
    .action(async (session: string, text: string, opts: { enter?: boolean }) => {
      const { callSession } = await import('../../session/session-client.js');
      await callSession(session, (c, signal) => c.sendInput({ text, enter: opts.enter === true }, { signal }));
    });
}
