/**
 * A real terminal for tests: a command in a node-pty PTY, rendered by a headless xterm of the
 * same size, so a test sees the screen a person would see.
 */
import * as nodePty from 'node-pty';
import xtermHeadless from '@xterm/headless';
import { CLI, waitFor, type TestHome } from './harness.js';

export type PtyTerminal = ReturnType<typeof ptyTerminal>;

/** `command args` in a terminal; `closers` gets what kills it and frees the renderer. */
export function ptyTerminal(command: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd: string; closers: (() => void)[]; cols?: number; rows?: number }) {
  const cols = o.cols ?? 90;
  const rows = o.rows ?? 20;
  const env = { ...o.env, TERM: 'xterm-256color', COLORTERM: 'truecolor' };
  const pty = nodePty.spawn(command, args, { name: 'xterm-256color', cols, rows, cwd: o.cwd, env: env as Record<string, string> });
  const term = new xtermHeadless.Terminal({ cols, rows, allowProposedApi: true });
  let raw = '';
  pty.onData((d) => {
    raw += d;
    term.write(d);
  });
  const exited = new Promise<number>((resolve) => pty.onExit((e) => resolve(e.signal ? 128 + e.signal : e.exitCode)));
  o.closers.push(() => {
    try {
      pty.kill('SIGKILL');
    } catch {
      // gone
    }
    term.dispose();
  });
  return {
    pty,
    term,
    exited,
    raw: () => raw,
    /** The visible rows as text, once xterm has parsed everything received so far. */
    async screen(): Promise<string> {
      await new Promise<void>((r) => term.write('', r));
      const buffer = term.buffer.active;
      const lines: string[] = [];
      for (let y = 0; y < term.rows; y++) lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
      return lines.join('\n').replace(/\n+$/, '');
    },
    /** Waits until the raw output contains `text`. */
    until: (text: string, what = JSON.stringify(text), ms = 20_000) => waitFor(() => raw.includes(text), ms, what),
    resize(c: number, r: number) {
      pty.resize(c, r);
      term.resize(c, r);
    },
  };
}

/**
 * `hapi <args>` in a terminal, through `sh`, which then prints hapi's exit code and `stty -a`,
 * and waits for a line before it exits. What a child writes just before it exits may never be
 * read (node-pty destroys the PTY's socket 200 ms after it reports the exit, drained or not): a
 * loaded test process lost the shell's last line, and hapi's exit looked like a hang.
 * `finished()` reads to the end first, then lets the shell go.
 */
export function hapiPtyTerminal(th: TestHome, args: string[], closers: (() => void)[], env: NodeJS.ProcessEnv = {}) {
  const script = '"$0" "$@"; echo "hapi-exit=$?"; stty -a; echo stty-done; read -r _';
  const t = ptyTerminal('/bin/sh', ['-c', script, process.execPath, CLI, ...args], { env: { ...th.env, ...env }, cwd: th.home, closers });
  return {
    ...t,
    /** Waits until hapi exited and the shell printed everything, then ends the shell. */
    async finished(what = 'hapi to exit'): Promise<void> {
      await t.until('stty-done', what);
      t.pty.write('\n');
      await t.exited;
    },
  };
}

export type HapiPtyTerminal = ReturnType<typeof hapiPtyTerminal>;

/** Canonical mode, echo and output processing on: the terminal was given back as it was. */
export const ttyNormal = (stty: string) => /(^|\s)icanon(\s|$)/m.test(stty) && /(^|\s)echo(\s|$)/m.test(stty) && /(^|\s)opost(\s|$)/m.test(stty);
