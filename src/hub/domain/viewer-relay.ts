/**
 * One viewer attached through the hub (HubService.AttachSession, the WebSocket endpoint): the
 * relay between the viewer's transport and an upstream attach stream opened by the session's
 * runner (attach-streams.ts). It owns the two rules of the hub's hop:
 *
 * - Bounded buffer: the upstream is read as fast as it comes, never paused, so neither the
 *   runner's link nor other viewers wait for this one. Output waits here for the viewer up to
 *   `bufferBytes`; past that the backlog is dropped, the upstream is reopened without an offset
 *   and the viewer gets a fresh snapshot (output until then is dropped). A transport with its
 *   own buffer (a WebSocket's) calls `resync()` for the same when that buffer is full.
 * - Resume: `held` is the offset just past the last byte handed to the viewer. When the upstream
 *   goes away (the runner restarted or reconnected), the relay keeps the viewer and opens a new
 *   upstream through the machine's next link with `held` as last_offset, for up to `resumeMs`:
 *   the session sends exactly what came after it, so the viewer sees no gap and no duplicate.
 *   A viewer that comes back with an offset (its hello's last_offset: the hub restarted and the
 *   page reconnected before the runner did) is held the same way when the machine has no link
 *   yet, rather than refused: a refusal closes the page's socket, and what it types meanwhile
 *   would have nowhere to go.
 */
import type { AttachHello, ViewerEvent, ViewerMessage } from '../../contract/session-types.js';
import { HapiError, InvalidArgumentError, PermissionDeniedError, UnavailableError, isHapiError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Upstream, UpstreamHandlers } from './attach-streams.js';

export interface ViewerRelayOptions {
  /** The viewer's hello (already narrowed to read-only when its token may not type). */
  hello: AttachHello;
  /** Opens an upstream through the machine's current link; Unavailable while it has none. */
  openUpstream(hello: AttachHello, handlers: UpstreamHandlers, signal: AbortSignal): Promise<Upstream>;
  bufferBytes: number;
  resumeMs: number;
  /** How often a lost upstream is tried again while resuming. */
  retryMs?: number;
  log: Logger;
}

/** The viewer's side: its events (iterate once), what it sends, and its end. */
export interface ViewerRelay extends AsyncIterable<ViewerEvent> {
  /** Input, resize or ack. PermissionDenied for input or resize from a read-only viewer. */
  send(m: ViewerMessage): void;
  /** Drops the backlog and asks for a fresh snapshot (the viewer's transport cannot keep up). */
  resync(): void;
  /** Ends the relay (the viewer went away, or `err` for why the hub ends it). Idempotent. */
  close(err?: HapiError): void;
  /** Resolves once the first upstream answered (or rejects with why it could not open). */
  readonly opened: Promise<void>;
  /**
   * Resolves when an upstream is open: at once, or once a resume found the machine again. Rejects
   * when the relay ends first. What goes beside the stream (a paste through SendInput) waits on it
   * rather than fail while the runner or the hub's link to it comes back.
   */
  ready(): Promise<void>;
  /** Snapshots sent because the viewer fell behind (for tests and benchmarks). */
  readonly resyncs: number;
}

/** Contiguous output waiting for a viewer is handed over in chunks of up to this much (fewer frames, less CPU per MB). */
const COALESCE_BYTES = 256 * 1024;

/** Input kept while no upstream is open (resuming), sent when the next one opens. */
const PENDING_INPUT_BYTES = 64 * 1024;

const sizeOf = (e: ViewerEvent) => (e.kind === 'output' ? e.data.length : e.kind === 'snapshot' ? e.snapshot.ansi.length : 0);

export function createViewerRelay(o: ViewerRelayOptions): ViewerRelay {
  const retryMs = o.retryMs ?? 200;
  const abort = new AbortController();
  const queue: ViewerEvent[] = [];
  let queuedBytes = 0;
  let wake: (() => void) | undefined;
  let ended = false;
  let failure: HapiError | undefined;
  let held: number | undefined = o.hello.lastOffset;
  let resyncing = false;
  let exited = false;
  let upstream: Upstream | undefined;
  /** An upstream has been open at least once (the viewer's size was imposed then). */
  let everOpened = false;
  let generation = 0;
  let resyncs = 0;
  let pending: ViewerMessage[] = [];
  let pendingBytes = 0;
  /** The newest resize asked for while resuming: the next upstream gets it first. */
  let pendingResize: ViewerMessage | undefined;
  let readyWaiters: { resolve: () => void; reject: (err: HapiError) => void }[] = [];
  const typing = o.hello.mode === 'interactive';

  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  function finish(err?: HapiError): void {
    if (ended) return;
    ended = true;
    failure = err;
    generation++;
    abort.abort();
    upstream?.close();
    upstream = undefined;
    notify();
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const w of waiters) w.reject(err ?? new UnavailableError('the terminal was closed'));
  }

  function enqueue(e: ViewerEvent): void {
    queue.push(e);
    queuedBytes += sizeOf(e);
    notify();
  }

  function onEvent(e: ViewerEvent): void {
    if (e.kind === 'snapshot') {
      resyncing = false;
      held = e.snapshot.offset;
      return enqueue(e);
    }
    if (e.kind === 'exited') {
      exited = true;
      return enqueue(e);
    }
    if (resyncing) return;
    let { offset, data } = e;
    // Never a duplicate: bytes the viewer holds already are cut off (the session resumes exactly, this is a guard).
    if (held !== undefined && offset < held) {
      if (offset + data.length <= held) return;
      data = data.subarray(held - offset);
      offset = held;
    }
    held = offset + data.length;
    enqueue({ kind: 'output', offset, data });
    if (queuedBytes > o.bufferBytes) {
      o.log.info({ queuedBytes, limit: o.bufferBytes }, 'viewer fell behind: backlog dropped, sending a fresh snapshot');
      relay.resync();
    }
  }

  function onEnd(gen: number, err?: HapiError): void {
    if (gen !== generation || ended) return;
    upstream = undefined;
    if (exited) return finish();
    if (!err || err.kind === 'Unavailable' || err.kind === 'Aborted') return void resume(err);
    finish(err);
  }

  /** Opens an upstream; the hello resumes from `held` unless a fresh snapshot is wanted. */
  async function connect(): Promise<void> {
    const gen = ++generation;
    const hello: AttachHello = {
      mode: o.hello.mode,
      // Only the first attach imposes the viewer's size; a reopen must not take it from another viewer.
      size: everOpened ? undefined : o.hello.size,
      lastOffset: resyncing ? undefined : held,
    };
    const up = await o.openUpstream(hello, { event: (e) => gen === generation && !ended && onEvent(e), end: (err) => onEnd(gen, err) }, abort.signal);
    if (gen !== generation || ended) return up.close();
    upstream = up;
    everOpened = true;
    const waiting = pendingResize ? [pendingResize, ...pending] : pending;
    pending = [];
    pendingBytes = 0;
    pendingResize = undefined;
    for (const m of waiting) up.send(m);
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** The upstream went away: attach again through the machine's next link, for up to resumeMs. */
  async function resume(why?: HapiError): Promise<void> {
    const deadline = Date.now() + o.resumeMs;
    o.log.info({ why: why?.message, held }, 'upstream attach lost: resuming through the next link');
    for (;;) {
      if (ended) return;
      try {
        await connect();
        return;
      } catch (err) {
        if (ended) return;
        if (!isHapiError(err) || (err.kind !== 'Unavailable' && err.kind !== 'Aborted')) return finish(isHapiError(err) ? err : new HapiError('Internal', 'attach failed'));
        if (Date.now() + retryMs > deadline) return finish(new UnavailableError(`the machine did not come back within ${o.resumeMs} ms; attach again with your last offset`));
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  }

  async function open(): Promise<void> {
    try {
      await connect();
    } catch (err) {
      const e = isHapiError(err) ? err : new HapiError('Internal', 'attach failed');
      if (o.hello.lastOffset === undefined || e.kind !== 'Unavailable' || ended) {
        finish(e);
        throw e;
      }
      // Coming back with an offset while the machine has no link here yet: held, as a resume.
      await resume(e);
      if (!everOpened) throw failure ?? new UnavailableError('the terminal was closed');
    }
  }
  const opened = open();
  opened.catch(() => undefined);

  const relay: ViewerRelay = {
    opened,
    get resyncs() {
      return resyncs;
    },
    ready() {
      if (ended) return Promise.reject(failure ?? new UnavailableError('the terminal was closed'));
      if (upstream) return Promise.resolve();
      return new Promise<void>((resolve, reject) => readyWaiters.push({ resolve, reject }));
    },
    send(m) {
      if (ended) return;
      if (m.kind === 'hello') throw new InvalidArgumentError('a second hello');
      if ((m.kind === 'input' || m.kind === 'resize') && !typing) throw new PermissionDeniedError('this viewer is read-only: it cannot type or resize');
      if (upstream) return upstream.send(m);
      // Resuming: a page refits while it reconnects; its last size must reach the terminal (a
      // dropped resize left it rows short after a hub restart).
      if (m.kind === 'resize') return void (pendingResize = m);
      if (m.kind !== 'input') return;
      // Resuming: keep a little input for the next upstream rather than lose it.
      if (pendingBytes + m.data.length > PENDING_INPUT_BYTES) return;
      pending.push(m);
      pendingBytes += m.data.length;
    },
    resync() {
      if (ended || exited) return;
      resyncs++;
      queue.length = 0;
      queuedBytes = 0;
      resyncing = true;
      upstream?.close();
      upstream = undefined;
      void resume(new UnavailableError('fresh snapshot for a viewer that fell behind'));
    },
    close(err) {
      finish(err);
    },
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          let e = queue.shift();
          if (e) {
            queuedBytes -= sizeOf(e);
            if (e.kind === 'output' && queue[0]?.kind === 'output') {
              const parts = [e.data];
              let bytes = e.data.length;
              for (let n = queue[0]; n?.kind === 'output' && n.offset === e.offset + bytes && bytes + n.data.length <= COALESCE_BYTES; n = queue[0]) {
                queue.shift();
                queuedBytes -= n.data.length;
                parts.push(n.data);
                bytes += n.data.length;
              }
              if (parts.length > 1) e = { kind: 'output', offset: e.offset, data: Buffer.concat(parts, bytes) };
            }
            yield e;
            if (e.kind === 'exited') return;
            continue;
          }
          if (ended) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((r) => (wake = r));
        }
      } finally {
        finish();
      }
    },
  };
  return relay;
}
