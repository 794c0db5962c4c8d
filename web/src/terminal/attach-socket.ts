/**
 * The page's side of the hub's attach WebSocket (`/api/v1/machines/{m}/sessions/{s}/attach`,
 * protocol in the README): says hello with the offset it holds, hands the view a snapshot and
 * then output in order, and reconnects by itself (capped exponential backoff with jitter) when
 * the hub restarts or the runner goes away (close codes 1006, 1011, 1012), resuming from the
 * last byte it holds, so the screen comes back without a gap or a duplicate.
 *
 * No DOM or Preact imports and an injectable socket and clock: the logic (offsets, dedupe,
 * reconnect) is unit-tested in Node with a fake socket (test/web-attach-socket.test.ts).
 */

/** The part of the browser's WebSocket this module uses. */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type AttachMode = 'interactive' | 'read-only';

/**
 * `connecting` (first time), `live` (the hub attached the session's terminal: an `attached`,
 * snapshot or output frame came), `reconnecting` (after a drop), `ended` (exited or refused: no retry).
 */
export type AttachState = 'connecting' | 'live' | 'reconnecting' | 'ended';

export interface Snapshot {
  screen: string;
  cols: number;
  rows: number;
  cursor: { x: number; y: number };
  offset: bigint;
}

export interface ExitInfo {
  exitCode: number | null;
  exitSignal: string | null;
}

/** An error frame, or a close the page should explain (code is the error frame's code or `CLOSE_<n>`). */
export interface AttachProblem {
  code: string;
  message: string;
}

export interface AttachHandlers {
  /** Replace the screen with this (first connect, or the hub could not resume from our offset). */
  snapshot(s: Snapshot): void;
  /** Bytes that follow what the view already shows: never a duplicate, never out of order. */
  output(bytes: Uint8Array): void;
  exited?(e: ExitInfo): void;
  /** Why the page stopped for good (a refusal, a close it does not retry); passing drops are `state` details. */
  problem?(p: AttachProblem): void;
  state?(state: AttachState, detail: string): void;
  viewers?(n: number): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface AttachSocketOptions {
  /** The socket URL for the next connection (async: it may fetch a one-time ticket first). */
  url: () => string | Promise<string>;
  mode: AttachMode;
  /**
   * The terminal's current size: sent in the first hello, in a hello after a mode switch or a
   * manual reconnect, and in a reconnect's hello only when it differs from the size last sent
   * (a dropped link is no reason to resize the session another viewer may have resized since).
   */
  size: () => { cols: number; rows: number };
  handlers: AttachHandlers;
  createSocket: (url: string) => SocketLike;
  clock?: Clock;
  /** Random in [0, 1) for jitter (tests pin it). */
  random?: () => number;
  backoff?: { initialMs: number; maxMs: number; healthyMs: number };
}

export interface AttachSocket {
  /** Keystrokes: sent as a binary frame of their UTF-8 bytes (dropped while not live or read-only). */
  type(data: string | Uint8Array): boolean;
  /** The composer: text as a paste (when the app enabled bracketed paste) and then Enter. */
  input(text: string, opts: { paste: boolean; enter: boolean }): boolean;
  resize(cols: number, rows: number): void;
  /** Re-attaches in the other mode, from the offset held. */
  setMode(mode: AttachMode): void;
  /** Connects again now (after `ended` by a replacement, say), from the offset held. */
  reconnect(): void;
  close(): void;
  /** The offset just past the last byte shown (undefined before the first snapshot). */
  offset(): bigint | undefined;
  state(): AttachState;
}

/** Close codes after which the hub or the runner may come back: reconnect with the offset held. */
export const RETRY_CLOSE_CODES: ReadonlySet<number> = new Set([1001, 1006, 1011, 1012, 1013]);

/** What a close the page will not retry means to a person. */
const CLOSE_MEANING: Record<number, string> = {
  1000: 'the session ended',
  4401: 'not signed in',
  4403: 'not allowed',
  4404: 'no such session',
  4409: 'another window took over this view',
};

export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 10_000, healthyMs: 5_000 };

const OPEN = 1;
const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as Parameters<typeof clearTimeout>[0]),
};

/** Delay before reconnect attempt `failures` (1-based): doubling from initialMs, capped, with up to 25 % jitter. */
export function backoffDelay(failures: number, b = DEFAULT_BACKOFF, random = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.75 + 0.25 * random()));
}

function parseOffset(v: unknown): bigint | undefined {
  if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) return undefined;
  return BigInt(v);
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

export function createAttachSocket(o: AttachSocketOptions): AttachSocket {
  const clock = o.clock ?? realClock;
  const random = o.random ?? Math.random;
  const backoff = o.backoff ?? DEFAULT_BACKOFF;
  const h = o.handlers;
  const encoder = new TextEncoder();
  let mode = o.mode;
  let socket: SocketLike | undefined;
  let held: bigint | undefined;
  let state: AttachState = 'connecting';
  let failures = 0;
  let openedAt = 0;
  let retryTimer: unknown;
  let closed = false;
  /** Bumped per connection, so a late event of an old socket is ignored. */
  let generation = 0;
  /** The size last told to the session (hello or resize), as "COLSxROWS". */
  let sentSize: string | undefined;
  /** The next hello is an automatic reconnect after a drop (it resizes only if the window did). */
  let resuming = false;
  /** The error frame of this connection, explained by the close that follows it. */
  let lastError: AttachProblem | undefined;

  const setState = (next: AttachState, detail = '') => {
    state = next;
    h.state?.(next, detail);
  };

  function scheduleRetry(detail: string): void {
    failures += 1;
    resuming = true;
    setState('reconnecting', detail);
    retryTimer = clock.setTimeout(connect, backoffDelay(failures, backoff, random));
  }

  function markLive(): void {
    if (state !== 'live' && socket) setState('live');
  }

  function onText(text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (msg.type) {
      case 'attached':
        return markLive();
      case 'snapshot': {
        const offset = parseOffset(msg.offset);
        if (offset === undefined) return;
        held = offset;
        markLive();
        const cursor = (msg.cursor ?? {}) as { x?: number; y?: number };
        h.snapshot({
          screen: typeof msg.screen === 'string' ? msg.screen : '',
          cols: Number(msg.cols) || 80,
          rows: Number(msg.rows) || 24,
          cursor: { x: Number(cursor.x) || 0, y: Number(cursor.y) || 0 },
          offset,
        });
        return;
      }
      case 'exited':
        h.exited?.({
          exitCode: typeof msg.exitCode === 'number' ? msg.exitCode : null,
          exitSignal: typeof msg.exitSignal === 'string' ? msg.exitSignal : null,
        });
        return;
      case 'error':
        // Always followed by a close, which tells whether it is for good (a problem to show) or
        // passing (the machine is back in a moment: the reconnect's reason, not a banner).
        lastError = { code: String(msg.code ?? 'UNKNOWN'), message: String(msg.message ?? '') };
        return;
      case 'state':
        if (typeof msg.viewers === 'number') h.viewers?.(msg.viewers);
        return;
    }
  }

  function onBinary(frame: Uint8Array, ws: SocketLike): void {
    if (frame.byteLength < 8) return;
    const start = new DataView(frame.buffer, frame.byteOffset, 8).getBigUint64(0);
    let bytes = frame.subarray(8);
    // Output before any snapshot has nothing to stand on unless we asked to resume from an offset.
    if (held === undefined) return;
    const end = start + BigInt(bytes.byteLength);
    if (end <= held) return; // all of it is already on screen (a resume that overlapped)
    if (start > held) {
      // A gap: never shown out of order. Ask again from what we hold (bytes or a snapshot).
      ws.close(4000, 'gap in output');
      return;
    }
    if (start < held) bytes = bytes.subarray(Number(held - start));
    held = end;
    markLive();
    h.output(bytes);
  }

  async function connect(): Promise<void> {
    if (closed) return;
    const gen = ++generation;
    let url: string;
    try {
      url = await o.url();
    } catch (err) {
      if (gen !== generation || closed) return;
      scheduleRetry(err instanceof Error ? err.message : String(err));
      return;
    }
    if (gen !== generation || closed) return;
    const ws = o.createSocket(url);
    socket = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (gen !== generation) return;
      openedAt = clock.now();
      lastError = undefined;
      const { cols, rows } = o.size();
      const size = `${cols}x${rows}`;
      const withSize = !resuming || held === undefined || size !== sentSize;
      if (withSize && mode === 'interactive') sentSize = size;
      resuming = false;
      ws.send(JSON.stringify({ type: 'hello', mode, ...(withSize ? { cols, rows } : {}), ...(held !== undefined ? { lastOffset: held.toString() } : {}) }));
      // Live once the hub says so (`attached`, or a first snapshot or output): a machine that is
      // not back yet after a hub restart refuses only after this open.
    };
    ws.onmessage = (ev) => {
      if (gen !== generation) return;
      if (typeof ev.data === 'string') onText(ev.data);
      else {
        const bytes = toBytes(ev.data);
        if (bytes) onBinary(bytes, ws);
      }
    };
    ws.onerror = () => {
      // Always followed by a close event, which decides what happens.
    };
    ws.onclose = (ev) => {
      if (gen !== generation || closed) return;
      socket = undefined;
      // A connection that stayed up a while was healthy: the next drop starts the backoff over.
      if (openedAt > 0 && clock.now() - openedAt >= backoff.healthyMs) failures = 0;
      openedAt = 0;
      const error = lastError;
      lastError = undefined;
      if (RETRY_CLOSE_CODES.has(ev.code) || ev.code === 4000) {
        scheduleRetry(error?.message || ev.reason || `connection closed (${ev.code})`);
        return;
      }
      const meaning = CLOSE_MEANING[ev.code] ?? `closed (${ev.code})`;
      if (ev.code !== 1000) h.problem?.(error ?? { code: `CLOSE_${ev.code}`, message: ev.reason || meaning });
      setState('ended', error?.message || ev.reason || meaning);
    };
  }

  /** Open and past its hello: the hub keeps what is typed until the terminal is attached. */
  function sendable(): SocketLike | undefined {
    return socket && socket.readyState === OPEN && mode === 'interactive' ? socket : undefined;
  }

  function restart(): void {
    clock.clearTimeout(retryTimer);
    const old = socket;
    socket = undefined;
    generation += 1;
    old?.close(1000, 'reattach');
    failures = 0;
    resuming = false;
    setState(held === undefined ? 'connecting' : 'reconnecting', '');
    void connect();
  }

  setState('connecting');
  void connect();

  return {
    type(data) {
      const ws = sendable();
      if (!ws) return false;
      ws.send(typeof data === 'string' ? encoder.encode(data) : data);
      return true;
    },
    input(text, opts) {
      const ws = sendable();
      if (!ws) return false;
      ws.send(JSON.stringify({ type: 'input', text, paste: opts.paste, enter: opts.enter }));
      return true;
    },
    resize(cols, rows) {
      if (socket?.readyState !== OPEN || mode !== 'interactive') return;
      socket.send(JSON.stringify({ type: 'resize', cols, rows }));
      sentSize = `${cols}x${rows}`;
    },
    setMode(next) {
      if (next === mode) return;
      mode = next;
      if (!closed) restart();
    },
    reconnect() {
      if (!closed) restart();
    },
    close() {
      closed = true;
      clock.clearTimeout(retryTimer);
      generation += 1;
      socket?.close(1000, 'closed by the page');
      socket = undefined;
    },
    offset: () => held,
    state: () => state,
  };
}
