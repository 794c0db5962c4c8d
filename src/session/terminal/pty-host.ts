/**
 * The adapter around node-pty: runs the agent in a pseudo-terminal and hands out its raw
 * output as bytes (node-pty decodes to strings unless told not to, which would split
 * multi-byte characters across chunks and break byte offsets).
 */
import { closeSync, constants as fsConstants, openSync, readFileSync } from 'node:fs';
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
  const tail = keepTail(pty);
  const done = new Promise<PtyExit>((resolve) => {
    pty.onExit(({ exitCode, signal }) => {
      exited = true;
      tail.release();
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
    pause() {
      // Once the agent is gone its last output is read at once (keepTail).
      if (tail.agentGone() || exited) return;
      pty.pause();
      tail.paused();
    },
    resume() {
      tail.resumed();
      pty.resume();
    },
  };
}

/** Quiet time after the agent's exit that counts as "its output is all read". */
const TAIL_QUIET_MS = 20;
/** At most this long after the exit (node-pty gives up on an undrained PTY after 200 ms). */
const TAIL_MAX_MS = 150;
/** How often a paused PTY checks that its agent still runs. */
const PAUSED_CHECK_MS = 25;

interface Tail {
  agentGone(): boolean;
  /** Reading was paused: watch the agent, so an exit meanwhile does not strand its output. */
  paused(): void;
  resumed(): void;
  release(): void;
}

/**
 * Keeps the agent's last output from being lost. When the agent exits, Linux may answer the
 * next read of the PTY with EIO while its last few KB are still on their way (the slave side
 * is closed), and node-pty destroys a PTY 200 ms after the exit, output it has not handed out
 * yet included (a paused reader's): under load 12 of 20 runs of `seq 1 1000` lost their tail,
 * and a paused one always did. So the session holds a descriptor of the slave side, which keeps
 * reads returning everything; once the agent is gone (SIGCHLD, or a check every
 * PAUSED_CHECK_MS while reading is paused) reading resumes for good, and the descriptor is
 * closed when the output has been quiet for TAIL_QUIET_MS, which ends the PTY as usual.
 */
function keepTail(pty: nodePty.IPty): Tail {
  let slave: number | undefined;
  const device = (pty as unknown as { _pty?: unknown })._pty;
  if (typeof device === 'string' && device.startsWith('/dev/')) {
    try {
      // O_NOCTTY: the session must not take the agent's terminal as its own.
      slave = openSync(device, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
    } catch {
      // Without it the PTY works as before; only the race above is back.
    }
  }
  let gone = false;
  let quiet: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let watch: NodeJS.Timeout | undefined;
  const stopWatching = () => {
    clearInterval(watch);
    watch = undefined;
  };
  const release = () => {
    process.off('SIGCHLD', check);
    stopWatching();
    clearTimeout(quiet);
    clearTimeout(deadline);
    if (slave === undefined) return;
    closeSync(slave);
    slave = undefined;
  };
  const settle = () => {
    clearTimeout(quiet);
    quiet = setTimeout(release, TAIL_QUIET_MS);
  };
  function check(): void {
    // A SIGCHLD may be another child's: the agent's PID says.
    if (gone || isRunning(pty.pid)) return;
    gone = true;
    stopWatching();
    pty.resume();
    deadline = setTimeout(release, TAIL_MAX_MS);
    settle();
  }
  process.on('SIGCHLD', check);
  pty.onData(() => gone && settle());
  return {
    agentGone: () => gone,
    paused() {
      watch ??= setInterval(check, PAUSED_CHECK_MS);
    },
    resumed: stopWatching,
    release,
  };
}

/** True while `pid` exists and is not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** A PTY whose reading several parties may pause, each for its own reason. */
export interface HeldPty extends PtyHost {
  /** Pauses (`on`) or stops pausing reading for `reason`; reading goes on once no reason is left. */
  pauseFor(reason: string, on: boolean): void;
}

/**
 * Holds the PTY's output until a listener takes it, for the screen model and the viewers, which
 * load after the session reported itself. `tap` sees every byte at once (the session log). Past
 * `maxBytes` held, reading pauses: the agent waits a moment at its start, nothing is lost. The
 * returned host delivers the held output to its first listener, in order, then everything else.
 * Its pause()/resume() are its listener's reason to pause; `pauseFor` adds others (the log's,
 * when the disk falls behind).
 */
export function holdOutput(pty: PtyHost, maxBytes: number, tap: (data: Buffer) => void): HeldPty {
  let held: Buffer[] | undefined = [];
  let heldBytes = 0;
  let listener: ((data: Buffer) => void) | undefined;
  const reasons = new Set<string>();
  let paused = false;
  const pauseFor = (reason: string, on: boolean) => {
    if (on) reasons.add(reason);
    else reasons.delete(reason);
    if (reasons.size > 0 && !paused) {
      paused = true;
      pty.pause();
    } else if (reasons.size === 0 && paused) {
      paused = false;
      pty.resume();
    }
  };
  pty.onData((data) => {
    tap(data);
    if (listener) return listener(data);
    held!.push(data);
    heldBytes += data.length;
    if (heldBytes >= maxBytes) pauseFor('held', true);
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
      pauseFor('held', false);
    },
    exited: pty.exited,
    write: (data) => pty.write(data),
    resize: (cols, rows) => pty.resize(cols, rows),
    kill: (signal) => pty.kill(signal),
    pause: () => pauseFor('listener', true),
    resume: () => pauseFor('listener', false),
    pauseFor,
  };
}
