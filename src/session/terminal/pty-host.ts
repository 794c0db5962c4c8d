/**
 * The adapter around node-pty: runs the agent in a pseudo-terminal and hands out its raw
 * output as bytes (node-pty decodes to strings unless told not to, which would split
 * multi-byte characters across chunks and break byte offsets).
 *
 * Every read of the PTY lands in one buffer (node's `onread` for sockets, set on the socket
 * node-pty reads from): a flood comes as some 25,000 reads of 4 KiB per 100 MB, and each used to
 * allocate 64 KiB for the read and 4 KiB for what it got, which left the session's malloc heap
 * fragmented (tens of MB resident after a flood). Listeners get a view of that buffer, valid
 * during the call only: whoever keeps output copies it (the ring, the log's batch do anyway).
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
  /** Output as it is read: a view valid during the call only (the next read overwrites it). */
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
  const listeners: ((data: Buffer) => void)[] = [];
  const emit = (data: Buffer) => {
    for (const l of listeners) l(data);
  };
  // Reading into one buffer bypasses the socket's pause (nothing is pushed): a read that
  // lands while paused answers false, which stops reading until resume().
  let paused = false;
  const pause = () => {
    paused = true;
    pty.pause();
  };
  const resume = () => {
    paused = false;
    pty.resume();
  };
  // Synchronously after the spawn: node-pty's socket starts reading on the next tick.
  // With `encoding: null` node-pty emits Buffers, although its types say string.
  if (!readIntoOneBuffer(pty, (data) => (emit(data), !paused))) pty.onData((data) => emit(data as unknown as Buffer));
  let exited = false;
  const tail = keepTail(pty, (l) => listeners.push(l), resume);
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
      listeners.push(listener);
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
      pause();
      tail.paused();
    },
    resume() {
      tail.resumed();
      resume();
    },
  };
}

/** The buffer every read of the PTY lands in: what libuv asks for per read of a stream. */
const READ_BUFFER_BYTES = 64 * 1024;

/** The parts of node's net.Socket `readIntoOneBuffer` sets (its `onread` option, after the fact). */
interface SocketInternals {
  _handle?: { useUserBuffer?: (buffer: Uint8Array) => void };
  [key: symbol]: unknown;
}

/**
 * Makes node-pty's socket read into one buffer and hand each read to `deliver` (what net.Socket
 * does for its `onread` option, which node-pty does not pass): no allocation per read, and no
 * 'data' events any more. `deliver` answers false to stop reading (until the socket's resume).
 * It sets the socket's own onread fields (found by their symbols' names) before its first read;
 * false, and nothing changed, when they are not there (another Node): the PTY is then read as
 * before.
 */
function readIntoOneBuffer(pty: nodePty.IPty, deliver: (data: Buffer) => boolean): boolean {
  const socket = (pty as unknown as { _socket?: SocketInternals })._socket;
  if (!socket || typeof socket._handle?.useUserBuffer !== 'function') return false;
  const symbols = Object.getOwnPropertySymbols(socket);
  const kBuffer = symbols.find((s) => s.description === 'kBuffer');
  const kBufferCb = symbols.find((s) => s.description === 'kBufferCb');
  if (!kBuffer || !kBufferCb || socket[kBuffer] !== null || socket[kBufferCb] !== null) return false;
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  socket[kBuffer] = buffer;
  socket[kBufferCb] = (nread: number) => deliver(buffer.subarray(0, nread));
  socket._handle.useUserBuffer(buffer);
  return true;
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
function keepTail(pty: nodePty.IPty, onData: (listener: () => void) => void, resume: () => void): Tail {
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
    resume();
    deadline = setTimeout(release, TAIL_MAX_MS);
    settle();
  }
  process.on('SIGCHLD', check);
  onData(() => gone && settle());
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
    // A copy: the PTY's data is a view of its read buffer (spawnPty).
    held!.push(Buffer.from(data));
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
