/**
 * The adapter around node-pty: runs the agent in a pseudo-terminal and hands out its raw
 * output as bytes (node-pty decodes to strings unless told not to, which would split
 * multi-byte characters across chunks and break byte offsets).
 */
import { constants } from 'node:os';
import * as nodePty from 'node-pty';

export interface PtyExit {
  exitCode?: number;
  /** Signal name when the agent was killed. */
  exitSignal?: string;
}

export interface PtyHost {
  readonly pid: number;
  readonly cols: number;
  readonly rows: number;
  onData(listener: (data: Buffer) => void): void;
  /** Resolves once the agent has exited and its last output was delivered. */
  readonly exited: Promise<PtyExit>;
  write(data: Buffer | string): void;
  resize(cols: number, rows: number): void;
  kill(signal: NodeJS.Signals): void;
  /** Stops reading the PTY (the agent blocks once the kernel's buffer is full) until resume(). */
  pause(): void;
  resume(): void;
}

export interface PtyOptions {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  cols: number;
  rows: number;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** Spawns the agent in a PTY. Throws (ENOENT...) when the command cannot be started. */
export function spawnPty(o: PtyOptions): PtyHost {
  const env = Object.fromEntries(Object.entries(o.env).filter((e): e is [string, string] => e[1] !== undefined));
  const pty = nodePty.spawn(o.command, o.args, { name: env.TERM ?? 'xterm-256color', cols: o.cols, rows: o.rows, cwd: o.cwd, env, encoding: null });
  let exited = false;
  const done = new Promise<PtyExit>((resolve) => {
    pty.onExit(({ exitCode, signal }) => {
      exited = true;
      resolve(signal ? { exitSignal: SIGNAL_NAMES.get(signal) ?? `SIG${signal}` } : { exitCode });
    });
  });
  return {
    get pid() {
      return pty.pid;
    },
    get cols() {
      return pty.cols;
    },
    get rows() {
      return pty.rows;
    },
    onData(listener) {
      // With `encoding: null` node-pty emits Buffers, although its types say string.
      pty.onData((data) => listener(data as unknown as Buffer));
    },
    exited: done,
    write(data) {
      if (!exited) pty.write(data);
    },
    resize(cols, rows) {
      if (!exited) pty.resize(cols, rows);
    },
    kill(signal) {
      if (!exited) pty.kill(signal);
    },
    pause: () => pty.pause(),
    resume: () => pty.resume(),
  };
}

/**
 * Holds the PTY's output until a listener takes it, for the screen model and the viewers, which
 * load after the session reported itself. `tap` sees every byte at once (the session log). Past
 * `maxBytes` held, reading pauses: the agent waits a moment at its start, nothing is lost. The
 * returned host delivers the held output to its first listener, in order, then everything else.
 */
export function holdOutput(pty: PtyHost, maxBytes: number, tap: (data: Buffer) => void): PtyHost {
  let held: Buffer[] | undefined = [];
  let heldBytes = 0;
  let paused = false;
  let listener: ((data: Buffer) => void) | undefined;
  pty.onData((data) => {
    tap(data);
    if (listener) return listener(data);
    held!.push(data);
    heldBytes += data.length;
    if (heldBytes >= maxBytes && !paused) {
      paused = true;
      pty.pause();
    }
  });
  return {
    get pid() {
      return pty.pid;
    },
    get cols() {
      return pty.cols;
    },
    get rows() {
      return pty.rows;
    },
    onData(l) {
      if (listener) throw new Error('holdOutput delivers to one listener');
      for (const data of held!) l(data);
      held = undefined;
      listener = l;
      if (paused) pty.resume();
    },
    exited: pty.exited,
    write: (data) => pty.write(data),
    resize: (cols, rows) => pty.resize(cols, rows),
    kill: (signal) => pty.kill(signal),
    pause: () => pty.pause(),
    resume: () => pty.resume(),
  };
}
