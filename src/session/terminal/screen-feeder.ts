/**
 * Feeds the agent's output to the screen model without letting the model set the agent's pace.
 *
 * xterm parses this output at about half the speed a PTY delivers it, on the thread that reads
 * the PTY. Viewers do not need the model (they get the raw bytes from the ring); only a snapshot
 * or a GetScreen does. So during a burst the parser gets a small share of the thread (one slice
 * every SHARE_MS, or whenever the output has been quiet for QUIET_MS), and what it has not
 * parsed yet waits in the ring or, once the ring would overwrite it, in the spool on disk. After
 * the burst it catches up at full speed. Whoever needs the model current (`catchUp`) gets it
 * parsed back to back, while reading goes on: nothing here ever pauses the agent for a viewer.
 * What the parser has not reached stays readable (`read`, from the ring or the spool), so a
 * viewer can take a snapshot of the model wherever it stands and replay what came after it.
 *
 * Bounds: the backlog never exceeds `maxBacklogBytes` (past it, reading pauses until the parser
 * is back under it, less RESUME_MARGIN); without a spool (0, or it cannot be written: a full
 * disk) the backlog is held by xterm in memory, up to MEMORY_BACKLOG_BYTES, as before.
 * Resizes are applied at the output offset they happened at, so the model never parses output
 * with a size it was not written for.
 *
 * A flood of plain lines (a build log, `cat` of a big file) is mostly skipped: only its last
 * lines decide what the model shows, scrollback included (plain-run.ts, found by plain-skipper.ts), so the parser takes
 * those and passes over the rest, which then needs neither parsing nor the spool. A backlog of
 * plain lines waits for PLAIN_QUIET_MS of quiet rather than QUIET_MS for the same reason.
 */
import type { OutputRing } from './output-ring.js';
import type { OutputSpool } from './output-spool.js';
import type { ScreenModel } from './screen-model.js';
import { createPlainSkipper, type PlainSkip } from './plain-skipper.js';

/** Bytes handed to the parser at once. */
export const SLICE_BYTES = 256 * 1024;
/** Output quiet this long counts as "the burst is over": the parser may run. */
export const QUIET_MS = 2;
/**
 * During a burst the parser still gets one slice this often (about a hundredth of the thread),
 * so the model moves on during a long flood. A larger share only slowed the flood: at a
 * flood's rate the model falls behind either way, and output at a rate it can follow has
 * quiet gaps (QUIET_MS) enough.
 */
export const SHARE_MS = 500;
/**
 * A backlog of plain lines waits for this much quiet (instead of QUIET_MS) before the parser
 * takes it slice by slice: while the output goes on, it is likely to be skipped, not parsed.
 */
export const PLAIN_QUIET_MS = 20;
/** Backlog xterm may hold in memory when there is no spool. */
export const MEMORY_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Hysteresis: reading resumes once the backlog is this far under its bound. */
const RESUME_MARGIN = 4 * 1024 * 1024;

export interface ScreenFeeder {
  /** Appends the output to the ring (spooling what the ring would drop unparsed) and schedules parsing. */
  append(data: Uint8Array): void;
  /** Resizes the model once everything written so far is parsed. */
  resize(cols: number, rows: number): void;
  /** Resolves once everything written so far is parsed (reading goes on meanwhile). */
  catchUp(): Promise<void>;
  /** Resolves when the parser next made progress (or the feeder closed). */
  progress(): Promise<void>;
  /** True when `read(offset)` can serve: the offset is in the ring, or on the spool. */
  holds(offset: number): boolean;
  /**
   * Up to `maxBytes` of output from `offset` (a copy), from the ring or, for output the ring
   * dropped before the parser read it, from the spool; undefined when `offset` is not held.
   */
  read(offset: number, maxBytes: number, into?: Buffer): Buffer | undefined;
  /** Output written but not parsed yet (bytes). */
  readonly backlog: number;
  /** Bytes currently on the spool. */
  readonly spooled: number;
  /** Output bytes passed over without parsing so far (plain lines a later part decided: plain-run.ts). */
  readonly skipped: number;
  close(): void;
}

export interface ScreenFeederOptions {
  ring: OutputRing;
  screen: ScreenModel;
  /** Pauses / resumes reading the PTY. */
  pause(): void;
  resume(): void;
  /** Opens the spool; undefined when spooling is off. Throws when it cannot be made. */
  openSpool?: () => OutputSpool;
  /** Largest backlog with a spool; 0 disables the spool. */
  maxBacklogBytes: number;
  /** Told once per failure spell (cannot open or write the spool). */
  onSpoolError?: (err: unknown) => void;
  now?: () => number;
}

const EMPTY = new Uint8Array(0);

export function createScreenFeeder(o: ScreenFeederOptions): ScreenFeeder {
  const { ring, screen } = o;
  const now = o.now ?? (() => performance.now());
  let spool: OutputSpool | undefined;
  let spoolBroken = !o.openSpool || o.maxBacklogBytes === 0;
  /** Offset up to which output was handed to xterm (it may still be parsing it). */
  let fed = 0;
  /** Writes handed to xterm and not parsed yet (slices, and resizes queued behind them). */
  let outstanding = 0;
  let lastAppendAt = -Infinity;
  let lastSliceAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const resizes: { offset: number; cols: number; rows: number }[] = [];
  const waiters: { target: number; resolve: () => void }[] = [];
  let progressWaiters: (() => void)[] = [];
  let pausedForBacklog = false;
  let sliceBuffer: Buffer | undefined;
  /** The end of the last skip (handed to xterm or deferred): nothing before it is needed to parse on. */
  let skippedTo = 0;
  /** A skip not handed to xterm yet (fastForward); the model stands at `fed`, before it. */
  let deferred: PlainSkip | undefined;
  /** Output neither parsed nor stood for by a skip: what the backlog's bound is about. */
  const unparsed = () => ring.end - Math.max(screen.offset, skippedTo);
  let skipped = 0;

  const limit = () => (spoolBroken ? MEMORY_BACKLOG_BYTES : o.maxBacklogBytes);
  /**
   * The first offset neither the spool nor the model holds: what the ring must not drop. From
   * what the model has parsed (not from what it was handed): a snapshot stands for that offset,
   * and a viewer replays from there.
   */
  const spooledFrom = () => Math.max(spool && spool.end > spool.start ? spool.end : Math.max(ring.start, screen.offset), skippedTo);
  function spoolFailed(err: unknown): void {
    if (!spoolBroken) o.onSpoolError?.(err);
    spoolBroken = true;
  }

  /** Hands `data` to xterm; `after` runs once xterm parsed it (and everything before it). */
  function submit(data: Uint8Array, after?: () => void, covers?: number): void {
    outstanding++;
    screen.write(
      data,
      () => {
        after?.();
        outstanding--;
        progressed();
      },
      covers,
    );
  }

  /** Output from `offset` (ring or spool; a copy, or a view of `into`); undefined when not held. */
  function readAt(offset: number, maxBytes: number, into?: Buffer): Buffer | undefined {
    if (offset >= ring.start) return ring.readFrom(offset, maxBytes, into);
    if (!spoolHolds(offset)) return undefined;
    try {
      // Up to the spool's end at most: from there on the ring holds it (or nothing does, after a
      // spool failure: the next read answers undefined).
      return spool!.read(offset, maxBytes, into);
    } catch (err) {
      // What it held is lost to viewers too: they resync; the parser skips to the ring (hand).
      spoolFailed(err);
      spool?.clear();
      return undefined;
    }
  }

  const skipper = createPlainSkipper({ ring, screen, read: readAt, nextResizeAt: () => resizes[0]?.offset });

  /**
   * Skips plain lines the model does not need to parse (plain-run.ts): hands xterm the skip's
   * SGR residue and kept lines as one write, or, `defer`, only copies them out of the ring (the
   * ring is about to drop them) to be parsed when the parser next runs, unless a later skip of
   * the same run supersedes them first: during a flood of plain lines nothing is parsed until
   * the parser gets its turn. True when it handed (or deferred) something.
   */
  function fastForward(defer = false): boolean {
    if (closed || outstanding > 0) return false;
    const skip = skipper.take(fed);
    if (!skip) return handDeferred();
    skippedTo = skip.to;
    // What the spool held is before the skip's end: no one parses it now (a viewer reading it resyncs).
    if (spool && spool.end > spool.start && spool.end <= skip.to) clearSpool();
    deferred = skip;
    if (!defer) handDeferred();
    return true;
  }

  /** Hands xterm the deferred skip, if any: the model then goes on from its end. */
  function handDeferred(): boolean {
    if (!deferred) return false;
    const { to, skipped: bytes, unit } = deferred;
    deferred = undefined;
    const from = fed;
    fed = to;
    skipped += bytes;
    submit(unit, undefined, to - from);
    queueResizes(fed);
    return true;
  }

  /** Queues the resizes due at or before `offset` behind what xterm was handed. */
  function queueResizes(offset: number): void {
    while (resizes.length > 0 && resizes[0]!.offset <= offset) {
      const r = resizes.shift()!;
      submit(EMPTY, () => screen.resize(r.cols, r.rows));
    }
  }

  /** Hands the next slice (`all`: everything) up to the ring's end to xterm, in order. */
  function hand(all: boolean): void {
    // The output before a deferred skip's end may be gone: the skip stands for it.
    handDeferred();
    while (fed < ring.end) {
      queueResizes(fed);
      const stop = Math.min(ring.end, fed + SLICE_BYTES, resizes.length > 0 ? resizes[0]!.offset : Infinity);
      // One slice at a time is handed over and parsed before the next: the same buffer serves
      // them all (no garbage per slice). `all` hands many at once: each needs its own.
      const into = all ? undefined : (sliceBuffer ??= Buffer.allocUnsafe(SLICE_BYTES));
      let data: Uint8Array;
      try {
        data = fed < ring.start ? spool!.read(fed, stop - fed, into) : ring.readFrom(fed, stop - fed, into)!;
      } catch (err) {
        // The spool cannot be read back: what it held is lost to the model (not to viewers or
        // the log). The model goes on from the oldest byte the ring holds.
        spoolFailed(err);
        fed = ring.start;
        continue;
      }
      fed += data.length;
      submit(data);
      if (!all) break;
    }
    queueResizes(fed);
  }

  function clearSpool(): void {
    try {
      spool?.clear();
    } catch (err) {
      spoolFailed(err);
    }
  }

  /**
   * Before the ring drops the bytes before `dropTo` the model has not parsed: skipped, onto the
   * spool, or (no spool) to xterm.
   */
  function keep(dropTo: number): void {
    // A skip may end before `dropTo` (at a resize, or the last whole line): the rest is kept as usual.
    if (fastForward(true) && spooledFrom() >= dropTo) return;
    if (!spoolBroken) {
      try {
        spool ??= o.openSpool!();
        const from = spooledFrom();
        // Everything the ring holds past `from`, written straight from the ring (no copy): the
        // next such write is a ring later.
        if (from < ring.end) spool.append(from, ring.viewsFrom(from)!);
        return;
      } catch (err) {
        spoolFailed(err);
      }
    }
    hand(true);
  }

  function progressed(): void {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (outstanding === 0 && fed >= waiters[i]!.target) waiters.splice(i, 1)[0]!.resolve();
    }
    if (pausedForBacklog && unparsed() <= Math.max(0, limit() - RESUME_MARGIN)) {
      pausedForBacklog = false;
      o.resume();
    }
    // The model parsed all the spool held: it is emptied (and written over from its start).
    if (spool && spool.end > spool.start && screen.offset >= spool.end) clearSpool();
    wakeProgress();
    if (outstanding === 0 && fed >= ring.end && spool) {
      // Caught up: the spool's disk space goes back until the next flood.
      try {
        spool.release();
      } catch (err) {
        spoolFailed(err);
      }
    }
    if (outstanding === 0 && !closed) setImmediate(pump);
  }

  function wakeProgress(): void {
    const woken = progressWaiters;
    progressWaiters = [];
    for (const w of woken) w();
  }

  /** The spool holds `offset` (it keeps everything from its start until the parser has read it all). */
  const spoolHolds = (offset: number) => spool !== undefined && offset >= spool.start && offset < spool.end;

  function pump(): void {
    clearTimeout(timer);
    timer = undefined;
    if (closed || outstanding > 0 || fed >= ring.end) return;
    const t = now();
    const urgent = waiters.length > 0 || pausedForBacklog;
    const quietFor = t - lastAppendAt;
    const quietMs = !urgent && skipper.plainBacklog(fed) ? PLAIN_QUIET_MS : QUIET_MS;
    if (!urgent && quietFor < quietMs && t - lastSliceAt < SHARE_MS) {
      timer = setTimeout(pump, Math.max(1, Math.min(quietMs - quietFor, SHARE_MS - (t - lastSliceAt))));
      return;
    }
    lastSliceAt = t;
    if (!fastForward()) hand(false);
  }

  function appendPiece(data: Uint8Array): void {
    // The ring is about to drop bytes the model has not parsed and the spool does not hold.
    const dropTo = ring.end + data.length - ring.capacity;
    if (dropTo > spooledFrom()) keep(dropTo);
    ring.append(data);
  }

  return {
    append(data) {
      // Pieces of at most half the ring, so a piece never pushes out bytes appended with it.
      const piece = Math.max(1, Math.floor(ring.capacity / 2));
      for (let at = 0; at < data.length; at += piece) appendPiece(data.length <= piece ? data : data.subarray(at, at + piece));
      lastAppendAt = now();
      if (!pausedForBacklog && unparsed() > limit()) {
        pausedForBacklog = true;
        o.pause();
      }
      if (outstanding === 0 && !timer) pump();
    },
    resize(cols, rows) {
      skipper.close();
      if (outstanding === 0 && fed >= ring.end && resizes.length === 0) return screen.resize(cols, rows);
      resizes.push({ offset: ring.end, cols, rows });
      if (fed >= ring.end) queueResizes(fed);
    },
    catchUp() {
      const target = ring.end;
      if (outstanding === 0 && fed >= target) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiters.push({ target, resolve });
        if (outstanding === 0) pump();
      });
    },
    progress() {
      if (closed) return Promise.resolve();
      return new Promise<void>((resolve) => progressWaiters.push(resolve));
    },
    holds(offset) {
      return (offset >= ring.start && offset <= ring.end) || spoolHolds(offset);
    },
    read: (offset, maxBytes, into) => readAt(offset, maxBytes, into),
    get backlog() {
      return ring.end - screen.offset;
    },
    get spooled() {
      return spool ? spool.end - spool.start : 0;
    },
    get skipped() {
      return skipped;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      spool?.close();
      for (const w of waiters.splice(0)) w.resolve();
      wakeProgress();
    },
  };
}
