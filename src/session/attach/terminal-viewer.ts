/**
 * A person's terminal as one viewer of a session: raw mode, the window's size (SIGWINCH ->
 * resize), keys forwarded as they come (the detach key excepted), output written as is. The
 * terminal is restored on every way out: detach, the session's end, an error, an uncaught
 * exception or process.exit (the `exit` event, written synchronously): raw mode off, and every
 * mode the application switched on switched back (terminal-modes.ts).
 */
import { spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import type { TerminalSize } from '../../contract/session-types.js';
import { startAttach, type AttachOutcome, type ViewerSink } from './attach-client.js';
import { findDetachKey } from './detach-key.js';
import { createTerminalModes } from './terminal-modes.js';
import type { AttachTransport } from './transport.js';

export interface TerminalAttachOptions {
  transport: AttachTransport;
  readOnly: boolean;
  /** The byte that detaches (HAPI_DETACH_KEY); undefined: none. */
  detachKey: number | undefined;
  /** See AttachClientOptions.lastOffset: 0 replays the session's output from its first byte. */
  lastOffset?: number;
  /** See AttachClientOptions.reconnectForMs. */
  reconnectForMs?: number;
  /**
   * Read-only viewers: what to show when keys are typed (why they go nowhere), on the bottom row
   * until the program redraws it; undefined: typed keys are dropped silently.
   */
  readOnlyNotice?: string;
  /** SIGTERM / SIGINT sent to this process (not typed: raw mode sends keys). Default: detach. */
  onTerminate?: (signal: NodeJS.Signals) => void;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

const NOTICE_EVERY_MS = 2_000;

/** `hangup`: the terminal went away (SIGHUP, or it can no longer be written to). */
export type TerminalOutcome = AttachOutcome & { hangup?: boolean };

/** Attaches the terminal; settles once detached or the agent exited, with the terminal restored. */
export async function attachTerminal(o: TerminalAttachOptions): Promise<TerminalOutcome> {
  const stdin = o.stdin ?? process.stdin;
  const stdout = o.stdout ?? process.stdout;
  const modes = createTerminalModes();
  let hangup = false;

  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    const sequence = modes.restoreSequence();
    try {
      // Synchronous: this also runs from the `exit` event, where nothing asynchronous happens.
      if (sequence && !hangup) writeSync((stdout as { fd?: number }).fd ?? 1, sequence);
    } catch {
      // The terminal is gone.
    }
    try {
      if (stdin.isTTY) stdin.setRawMode(false);
    } catch {
      // The terminal is gone.
    }
  };
  process.on('exit', restore);

  const write = (data: string | Buffer) => {
    if (hangup) return;
    // A TTY write is synchronous in Node: a slow terminal slows this reader, which HTTP/2 flow
    // control passes on to the session (and past its window, it sends a snapshot instead).
    stdout.write(data);
  };
  const sink: ViewerSink = {
    snapshot(snapshot) {
      // Back to a plain terminal first (the snapshot sets the modes it needs), then the screen.
      const text = `${modes.restoreSequence()}\x1b[H\x1b[2J${snapshot.ansi}`;
      modes.reset();
      const bytes = Buffer.from(text);
      modes.observe(bytes);
      write(bytes);
    },
    output(data) {
      modes.observe(data);
      write(data);
    },
  };
  const size = (): TerminalSize | undefined => (stdout.columns > 0 && stdout.rows > 0 ? { cols: stdout.columns, rows: stdout.rows } : undefined);

  if (stdin.isTTY) {
    stdin.setRawMode(true);
    rawOutput(stdin);
  }
  const client = startAttach({ transport: o.transport, mode: o.readOnly ? 'read-only' : 'interactive', size, lastOffset: o.lastOffset, reconnectForMs: o.reconnectForMs, sink });

  let noticeShownAt = 0;
  const notice = (text: string) => {
    // Once per burst of typing: a held key must not flood the terminal.
    if (Date.now() - noticeShownAt < NOTICE_EVERY_MS) return;
    noticeShownAt = Date.now();
    const row = stdout.rows > 0 ? stdout.rows : 24;
    // Cursor and attributes saved and restored around it: the program's screen stays as it was.
    write(`\x1b7\x1b[${row};1H\x1b[0;7m ${text} \x1b[0m\x1b[K\x1b8`);
  };
  const onInput = (data: Buffer) => {
    const key = o.detachKey === undefined ? undefined : findDetachKey(data, o.detachKey);
    const typed = key ? data.subarray(0, key.at) : data;
    if (!o.readOnly) client.input(typed);
    else if (typed.length > 0 && o.readOnlyNotice) notice(o.readOnlyNotice);
    if (key) client.detach();
  };
  const onResize = () => {
    const s = size();
    if (s && !o.readOnly) client.resize(s);
  };
  const onHangup = () => {
    hangup = true;
    client.detach();
  };
  const onTerminate = (signal: NodeJS.Signals) => (o.onTerminate ? o.onTerminate(signal) : client.detach());
  const onSigterm = () => onTerminate('SIGTERM');
  const onSigint = () => onTerminate('SIGINT');
  const onWriteError = () => onHangup();
  stdin.on('data', onInput);
  stdin.on('end', onHangup);
  stdin.on('error', onHangup);
  stdout.on('resize', onResize);
  stdout.on('error', onWriteError);
  process.on('SIGHUP', onHangup);
  process.on('SIGTERM', onSigterm);
  process.on('SIGINT', onSigint);
  stdin.resume();
  try {
    const outcome = await client.done;
    return hangup ? { ...outcome, hangup } : outcome;
  } finally {
    stdin.off('data', onInput);
    stdin.off('end', onHangup);
    stdin.off('error', onHangup);
    stdin.on('error', () => {});
    stdout.off('resize', onResize);
    process.off('SIGHUP', onHangup);
    process.off('SIGTERM', onSigterm);
    process.off('SIGINT', onSigint);
    stdin.pause();
    restore();
    process.off('exit', restore);
    // A write to a terminal that closed meanwhile must not become an uncaught error later.
    stdout.off('error', onWriteError);
    stdout.on('error', () => {});
  }
}

/**
 * Output processing off (`stty -opost`), as dtach and tmux have it (cfmakeraw): Node's raw mode
 * keeps ONLCR, which would turn every line feed the application meant as "down one line" (curses
 * programs turn ONLCR off in their own terminal for that) into a carriage return and a line feed.
 * Node has no call for it; `stty` acts on its stdin, this terminal. setRawMode(false) puts the
 * whole original mode back, this included.
 */
function rawOutput(stdin: NodeJS.ReadStream): void {
  const fd = (stdin as { fd?: number }).fd ?? 0;
  spawnSync('stty', ['-opost'], { stdio: [fd, 'ignore', 'ignore'] });
}
