/**
 * The terminal of one session: the agent's PTY, the ring of its raw output, the model of its
 * screen, and the viewers attached to it. Plain domain code over three small adapters.
 *
 * Flow control is pull-based: a viewer is only an offset into the output. Output is appended
 * once for everybody; each viewer reads what comes after its offset when its transport asks
 * for more. A viewer that falls more than `windowBytes` behind (or out of what is held) skips
 * its backlog and gets a snapshot of the screen model. Nothing waits for a viewer, so the agent
 * is never paused and a stalled viewer costs nothing but its offset.
 *
 * During a flood the model may lag far behind the output (screen-feeder.ts). A snapshot then
 * stands for the offset the model has parsed, and the viewer replays what came after it from
 * the ring or the spool: reading the PTY is never held for a snapshot, and a viewer's stream
 * never goes quiet while output it has not got exists.
 */
import { FailedPreconditionError, InvalidArgumentError, PermissionDeniedError } from '../../shared/errors.js';
import type {
  AttachHello,
  ExitStatus,
  ScreenText,
  SessionInput,
  TerminalInfo,
  TerminalSize,
  ViewerEvent,
  ViewerMessage,
} from '../../contract/session-types.js';
import type { OutputRing } from './output-ring.js';
import type { OutputSpool } from './output-spool.js';
import type { PtyHost } from './pty-host.js';
import { createIdleCollector } from './idle-collector.js';
import { createScreenFeeder } from './screen-feeder.js';
import type { ScreenModel } from './screen-model.js';

/** Largest output chunk handed to a viewer at once. */
export const MAX_CHUNK_BYTES = 64 * 1024;
/**
 * How long a viewer's output is held after its last output event to gather what the PTY
 * delivers next: an agent's burst comes as many small reads (2-4 KiB, 0.1 ms apart), and every
 * event costs each hop (session, runner, hub) a message. Output after a quiet spell, and the
 * first output after anyone typed, goes at once: keystroke echo is never held.
 */
export const COALESCE_MS = 4;

/** Output after which a quiet spell is worth a full garbage collection (idle-collector.ts). */
const GC_AFTER_BYTES = 16 * 1024 * 1024;
const GC_QUIET_MS = 500;

export interface Viewer {
  /**
   * The next event for this viewer; waits for output. Undefined after `exited` or `close` (which
   * also ends a wait). With `into` (at least MAX_CHUNK_BYTES), output is copied there and the
   * event's data is a view of it: the caller's buffer, reused for every event, instead of a new
   * one per event (some 3,000 a 100 MB flood).
   */
  next(into?: Buffer): Promise<ViewerEvent | undefined>;
  /** A client message after the hello. Throws InvalidArgument / PermissionDenied. */
  handle(message: ViewerMessage): void;
  close(): void;
}

export interface TerminalSession {
  attach(hello: AttachHello): Viewer;
  /**
   * The visible screen; `noWait`: as parsed so far, at once (during a flood the model may lag:
   * its offset says how far); `textOnly`: without its ANSI form (empty), which costs the most.
   */
  screen(opts?: { noWait?: boolean; textOnly?: boolean }): Promise<ScreenText>;
  sendInput(input: SessionInput): void;
  resize(size: TerminalSize): void;
  info(): TerminalInfo;
  /** True while a local-terminal viewer (AttachHello.localTerminal) is attached and typed within `windowMs`. */
  personAtTerminal(windowMs: number): boolean;
  /** Resolves once the agent has exited and every viewer was told. */
  readonly exited: Promise<ExitStatus>;
  /** Stops parsing and gives the spool back. */
  dispose(): void;
}

export interface TerminalSessionOptions {
  pty: PtyHost;
  screen: ScreenModel;
  ring: OutputRing;
  /** The fixed part of GetInfo. */
  identity: Pick<TerminalInfo, 'id' | 'agent' | 'directory' | 'startedBy' | 'pid'>;
  /** How far (bytes) a viewer may fall behind before its backlog is dropped. */
  windowBytes: number;
  /**
   * Unparsed output (bytes) the screen model may lag behind, on the spool, before reading the
   * PTY pauses until it caught up (HAPI_SESSION_SPOOL_MAX_BYTES); 0: no spool, xterm holds the
   * backlog in memory (MEMORY_BACKLOG_BYTES).
   */
  maxBacklogBytes?: number;
  /** Opens the spool for output the model has not parsed when the ring would drop it. */
  openSpool?: () => OutputSpool;
  /** Told when the spool cannot be made or written (the model then parses in step). */
  onSpoolError?: (err: unknown) => void;
  /** Every output byte, in order (the session log). */
  onOutput?: (data: Buffer) => void;
  /** Hold for gathering output into fewer events (COALESCE_MS); 0 sends every read at once. */
  coalesceMs?: number;
  /** Epoch ms (the time of the last output, in GetInfo). */
  now?: () => number;
  /** A full garbage collection, run once the output is quiet after a flood (idle-collector.ts). */
  collectGarbage?: () => void;
  /** Told of output and input (the activity guess), and asked for the activity GetInfo shows. */
  activity?: { output(): void; input(): void; current(): TerminalInfo['activity'] };
}

export function createTerminalSession(o: TerminalSessionOptions): TerminalSession {
  const { pty, screen, ring } = o;
  const now = o.now ?? Date.now;
  let viewers = 0;
  // Epoch ms of the last output (a Date is made only when GetInfo asks: reads come by thousands).
  let lastOutputMs: number | undefined;
  let exitStatus: ExitStatus | undefined;
  // Resolved whenever there is something new for viewers (output or the exit), once someone
  // waits for it: a burst's reads do not each make a promise nobody awaits.
  let wake: (() => void) | undefined;
  let changedPromise: Promise<void> | undefined;
  const changed = () => (changedPromise ??= new Promise<void>((r) => (wake = r)));
  const notify = () => {
    const done = wake;
    wake = undefined;
    changedPromise = undefined;
    done?.();
  };

  const coalesceMs = o.coalesceMs ?? COALESCE_MS;
  // Counts inputs from anyone: a viewer that saw a new one since its last output skips the hold.
  let inputs = 0;
  // Local-terminal viewers attached, and when one of them last typed (monotonic ms).
  let localViewers = 0;
  let localInputAt = -Infinity;
  const write = (data: Buffer | string) => {
    inputs++;
    o.activity?.input();
    pty.write(data);
    notify(); // ends the viewers' holds
  };

  const feeder = createScreenFeeder({
    ring,
    screen,
    pause: () => pty.pause(),
    resume: () => pty.resume(),
    openSpool: o.openSpool,
    maxBacklogBytes: o.openSpool ? (o.maxBacklogBytes ?? 0) : 0,
    onSpoolError: o.onSpoolError,
  });
  const collector = createIdleCollector({ gc: o.collectGarbage, settled: () => feeder.catchUp(), minBytes: GC_AFTER_BYTES, quietMs: GC_QUIET_MS });
  pty.onData((data) => {
    feeder.append(data);
    collector.output(data.length);
    lastOutputMs = now();
    o.onOutput?.(data);
    o.activity?.output();
    notify();
  });
  const exited = pty.exited.then((status) => {
    exitStatus = status;
    notify();
    return status;
  });

  function resize(size: TerminalSize): void {
    if (exitStatus) throw new FailedPreconditionError('the agent has exited');
    pty.resize(size.cols, size.rows);
    feeder.resize(size.cols, size.rows);
  }

  /**
   * What a viewer at `position` (undefined: it has nothing yet) that lags past its window or out
   * of what is held gets next: a snapshot, or undefined to go on from `position` (or, when that
   * is not held either, to ask again once the model moved on).
   *
   * When the model is close behind the output (half a window to parse at most) it catches up
   * first, for a snapshot of the present. Otherwise (a flood: the parser gets a share of the
   * thread only) the snapshot stands where the model is, and the viewer replays the rest; but a
   * viewer whose own offset is still held goes on streaming from it unless the snapshot skips at
   * least half a window: a snapshot of a full scrollback costs more than that much output.
   */
  async function resync(position: number | undefined): Promise<(ViewerEvent & { kind: 'snapshot' }) | undefined> {
    if (ring.end - screen.offset <= o.windowBytes / 2) await feeder.catchUp();
    const at = screen.offset;
    const streamable = position !== undefined && feeder.holds(position);
    if (!feeder.holds(at)) return undefined;
    if (streamable && at - position < o.windowBytes / 2) return undefined;
    return { kind: 'snapshot', snapshot: screen.snapshot() };
  }

  return {
    attach(hello) {
      if (hello.size && hello.mode === 'interactive' && !exitStatus) resize(hello.size);
      viewers++;
      const local = hello.localTerminal === true && hello.mode === 'interactive';
      if (local) {
        localViewers++;
        // Attaching is using it: the person just sat down at it.
        localInputAt = performance.now();
      }
      // This viewer's own size: the one it sets again when it types (the viewer that last typed
      // or resized sets the terminal's size, DESIGN.md).
      let size = hello.mode === 'interactive' ? hello.size : undefined;
      let closed = false;
      let exitSent = false;
      // When this viewer's last output event went (monotonic ms), and the input count then.
      let lastSentAt = -Infinity;
      let inputsAtLastSent = inputs;
      let held = false;
      /** Waits until `ms` passed, a full chunk is there, the agent exited or the viewer closed. */
      async function hold(ms: number, from: number): Promise<void> {
        let timer: NodeJS.Timeout | undefined;
        let due = false;
        const elapsed = new Promise<void>((r) => (timer = setTimeout(() => ((due = true), r()), ms)));
        try {
          while (!due && !closed && !exitStatus && ring.end - from < MAX_CHUNK_BYTES && inputs === inputsAtLastSent) await Promise.race([changed(), elapsed]);
        } finally {
          clearTimeout(timer);
        }
      }
      // The offset of the next byte to send; undefined: send a snapshot first.
      let position = hello.lastOffset !== undefined && feeder.holds(hello.lastOffset) ? hello.lastOffset : undefined;
      const close = () => {
        if (closed) return;
        closed = true;
        viewers--;
        if (local) localViewers--;
        // Wakes this viewer's wait (and the others', which look again and wait on). Not a promise
        // of its own to race against: every race on a promise that stays pending adds a
        // reaction to it, and a viewer's waits come by the thousand per flood.
        notify();
      };
      return {
        async next(into) {
          for (;;) {
            if (closed || exitSent) return undefined;
            if (position === undefined || !feeder.holds(position) || ring.end - position > o.windowBytes) {
              const event = await resync(position);
              if (closed) continue;
              if (event) {
                position = event.snapshot.offset;
                return event;
              }
              if (position === undefined || !feeder.holds(position)) {
                // Neither this viewer's offset nor the model's is held (the model's slice in
                // flight fell out of the ring): the model's next step settles it.
                await Promise.race([feeder.progress(), changed()]);
                continue;
              }
            }
            if (position < ring.end) {
              const wait = lastSentAt + coalesceMs - performance.now();
              if (!held && wait > 0 && !exitStatus && ring.end - position < MAX_CHUNK_BYTES && inputs === inputsAtLastSent) {
                // Checked again from the top: the hold may have let the ring pass this viewer by.
                held = true;
                await hold(wait, position);
                continue;
              }
              held = false;
              const data = feeder.read(position, MAX_CHUNK_BYTES, into);
              // The spool failed under this viewer: resync.
              if (!data) continue;
              const event: ViewerEvent = { kind: 'output', offset: position, data };
              position += data.length;
              lastSentAt = performance.now();
              inputsAtLastSent = inputs;
              return event;
            }
            if (exitStatus) {
              exitSent = true;
              return { kind: 'exited', status: exitStatus };
            }
            await changed();
          }
        },
        handle(message) {
          switch (message.kind) {
            case 'hello':
              throw new InvalidArgumentError('hello may only be sent once, first');
            case 'ack':
              return;
            case 'input':
              if (hello.mode === 'read-only') throw new PermissionDeniedError('this viewer is read-only: input refused');
              if (exitStatus) throw new FailedPreconditionError('the agent has exited');
              if (size && (size.cols !== pty.cols || size.rows !== pty.rows)) resize(size);
              if (local) localInputAt = performance.now();
              write(message.data);
              return;
            case 'resize':
              if (hello.mode === 'read-only') throw new PermissionDeniedError('this viewer is read-only: resize refused');
              resize(message.size);
              size = message.size;
              return;
          }
        },
        close,
      };
    },
    async screen({ noWait = false, textOnly = false } = {}) {
      if (!noWait) await feeder.catchUp();
      return { ...screen.snapshot({ visibleOnly: true, withoutAnsi: textOnly }), text: screen.text() };
    },
    sendInput(input) {
      if (exitStatus) throw new FailedPreconditionError('the agent has exited');
      if ('data' in input) write(input.data);
      else write(screen.bracketedPaste ? `\x1b[200~${input.text}\x1b[201~` : input.text);
      if (input.enter) write('\r');
    },
    resize,
    info() {
      // The PTY's size: the screen model takes a resize once it parsed the output before it.
      return { ...o.identity, cols: pty.cols, rows: pty.rows, viewers, lastOutputAt: lastOutputMs === undefined ? undefined : new Date(lastOutputMs), exitStatus, outputOffset: ring.end, activity: o.activity?.current() };
    },
    personAtTerminal: (windowMs) => localViewers > 0 && performance.now() - localInputAt <= windowMs,
    exited,
    dispose() {
      collector.close();
      feeder.close();
    },
  };
}
