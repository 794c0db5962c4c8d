/**
 * One WebSocket viewer of a session's terminal (the protocol in the README, "Attaching from a
 * browser"): a hello text frame, then binary input or JSON input/resize frames up; attached,
 * snapshot, exited and error text frames and binary output frames (8-byte big-endian offset, then the
 * bytes) down. It drives a viewer relay of the hub's domain (viewer-relay.ts).
 *
 * The socket's own send buffer is bounded too: when `bufferedAmount` passes the limit, what
 * waits is dropped, the relay is asked for a fresh snapshot, and nothing more is sent until the
 * socket has drained, so a phone on a slow link never holds more than the limit in the hub.
 */
import type { WebSocket } from 'ws';
import { Status } from 'nice-grpc-common';
import type { AttachHello, ViewerEvent } from '../../contract/session-types.js';
import { MAX_INPUT_BYTES, MAX_TERMINAL_DIMENSION } from '../../contract/session-types.js';
import { HapiError, InvalidArgumentError, PermissionDeniedError, isHapiError } from '../../shared/errors.js';
import { grpcStatusOf } from '../../shared/grpc-errors.js';
import type { Logger } from '../../shared/logger.js';
import type { ViewerRelay } from '../domain/viewer-relay.js';

/** What the socket needs from the hub, for one caller. */
export interface AttachBackend {
  attach(hello: AttachHello): ViewerRelay;
  /** Types text (a bracketed paste when the program enabled it), then Enter if asked. */
  sendText(text: string, enter: boolean): Promise<void>;
}

export interface AttachSocketOptions {
  /** ws.bufferedAmount past which the backlog is dropped for a fresh snapshot. */
  sendBufferBytes: number;
  helloTimeoutMs?: number;
  log: Logger;
}

/** How often a paste is tried when the runner's link drops right as it is sent. */
const PASTE_ATTEMPTS = 5;

/** Close codes of the protocol. */
export const CLOSE = { exited: 1000, invalid: 4400, unauthenticated: 4401, forbidden: 4403, notFound: 4404, replaced: 4409, runnerGone: 1011, hubRestart: 1012 } as const;

/** The protocol's error code (a gRPC status name) and close code of a domain error. */
export function errorFrameOf(err: unknown): { code: string; message: string; close: number } {
  const e = isHapiError(err) ? err : new HapiError('Internal', 'internal error');
  const code = Status[grpcStatusOf(e.kind)] ?? 'INTERNAL';
  const close =
    e.kind === 'NotFound' ? CLOSE.notFound
    : e.kind === 'PermissionDenied' ? CLOSE.forbidden
    : e.kind === 'Unauthenticated' ? CLOSE.unauthenticated
    : e.kind === 'Unavailable' || e.kind === 'Aborted' || e.kind === 'DeadlineExceeded' || e.kind === 'Internal' ? CLOSE.runnerGone
    : CLOSE.invalid;
  return { code, message: e.message, close };
}

/** Sends an error frame and closes with its code. */
export function refuse(ws: WebSocket, err: unknown): void {
  const f = errorFrameOf(err);
  if (ws.readyState !== ws.OPEN) return;
  ws.send(JSON.stringify({ type: 'error', code: f.code, message: f.message }));
  ws.close(f.close, f.code);
}

const size = (v: unknown) => (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_TERMINAL_DIMENSION ? (v as number) : undefined);

function parseJson(data: Buffer): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch {
    throw new InvalidArgumentError('a text frame must be JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError('a text frame must be a JSON object');
  return v as Record<string, unknown>;
}

/** The hello frame, validated. */
export function parseHello(data: Buffer): AttachHello {
  const m = parseJson(data);
  if (m.type !== 'hello') throw new InvalidArgumentError('the first frame must be a hello');
  if (m.mode !== 'interactive' && m.mode !== 'read-only') throw new InvalidArgumentError('hello.mode must be "interactive" or "read-only"');
  let lastOffset: number | undefined;
  if (m.lastOffset !== undefined && m.lastOffset !== null) {
    if (typeof m.lastOffset !== 'string' || !/^\d{1,16}$/.test(m.lastOffset) || !Number.isSafeInteger(Number(m.lastOffset))) {
      throw new InvalidArgumentError('hello.lastOffset must be a decimal string');
    }
    lastOffset = Number(m.lastOffset);
  }
  const cols = size(m.cols);
  const rows = size(m.rows);
  if ((m.cols !== undefined || m.rows !== undefined) && (!cols || !rows)) throw new InvalidArgumentError(`hello.cols and rows must be 1..${MAX_TERMINAL_DIMENSION}`);
  return { mode: m.mode, size: cols && rows ? { cols, rows } : undefined, lastOffset };
}

/** A server event as a frame: JSON text, or binary output with its offset. */
export function eventFrame(e: ViewerEvent): string | Buffer {
  switch (e.kind) {
    case 'snapshot': {
      const s = e.snapshot;
      return JSON.stringify({ type: 'snapshot', screen: s.ansi, cols: s.cols, rows: s.rows, cursor: s.cursor, offset: String(s.offset) });
    }
    case 'exited':
      return JSON.stringify({ type: 'exited', exitCode: e.status.exitCode ?? null, exitSignal: e.status.exitSignal ?? null });
    case 'output': {
      const frame = Buffer.allocUnsafe(8 + e.data.length);
      frame.writeBigUInt64BE(BigInt(e.offset), 0);
      e.data.copy(frame, 8);
      return frame;
    }
  }
}

/** Serves one viewer on `ws` until either side ends. */
export function serveAttachSocket(ws: WebSocket, backend: AttachBackend, o: AttachSocketOptions): void {
  let relay: ViewerRelay | undefined;
  let hello: AttachHello | undefined;
  // Pastes go one after the other (through SendInput, beside the stream), each once the relay
  // has an upstream: typed while the runner or the hub's link to it comes back (a hub restart,
  // a runner restart), a paste waits for it instead of failing, as keystrokes are kept.
  let pastes: Promise<void> = Promise.resolve();
  async function paste(r: ViewerRelay, text: string, enter: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await r.ready();
      try {
        return await backend.sendText(text, enter);
      } catch (err) {
        // The link went away between the two: wait for the next one, a few times at most.
        if (!isHapiError(err) || err.kind !== 'Unavailable' || attempt >= PASTE_ATTEMPTS) throw err;
        await new Promise((res) => setTimeout(res, 100 * attempt));
      }
    }
  }
  const helloTimer = setTimeout(() => refuse(ws, new InvalidArgumentError('no hello in time')), o.helloTimeoutMs ?? 10_000);

  async function pump(r: ViewerRelay): Promise<void> {
    try {
      for await (const e of r) {
        if (ws.readyState !== ws.OPEN) return;
        if (e.kind !== 'exited' && ws.bufferedAmount > o.sendBufferBytes) {
          // The socket cannot keep up: drop what waits, wait for it to drain, start again from a snapshot.
          r.resync();
          while (ws.readyState === ws.OPEN && ws.bufferedAmount > o.sendBufferBytes / 4) await new Promise((res) => setTimeout(res, 20));
          continue;
        }
        ws.send(eventFrame(e));
        if (e.kind === 'exited') return void ws.close(CLOSE.exited, 'exited');
      }
      // The relay ended without exited (closed by the hub): the client comes back with its offset.
      if (ws.readyState === ws.OPEN) ws.close(CLOSE.runnerGone, 'ended');
    } catch (err) {
      refuse(ws, err);
    }
  }

  function onMessage(data: Buffer, isBinary: boolean): void {
    if (!hello) {
      clearTimeout(helloTimer);
      if (isBinary) throw new InvalidArgumentError('the first frame must be a hello');
      hello = parseHello(data);
      relay = backend.attach(hello);
      void pump(relay);
      // The page is live once the session's terminal answered, not when its socket opened: a
      // resumed idle terminal sends nothing, and a machine not back yet refuses after the open.
      relay.opened.then(
        () => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'attached' })),
        () => undefined,
      );
      return;
    }
    if (!relay) return;
    if (isBinary) {
      for (let i = 0; i < data.length; i += MAX_INPUT_BYTES) relay.send({ kind: 'input', data: data.subarray(i, i + MAX_INPUT_BYTES) });
      return;
    }
    const m = parseJson(data);
    if (m.type === 'resize') {
      const cols = size(m.cols);
      const rows = size(m.rows);
      if (!cols || !rows) throw new InvalidArgumentError(`resize needs cols and rows in 1..${MAX_TERMINAL_DIMENSION}`);
      return relay.send({ kind: 'resize', size: { cols, rows } });
    }
    if (m.type !== 'input') throw new InvalidArgumentError(`unknown frame type ${JSON.stringify(m.type)}`);
    if (typeof m.text !== 'string') throw new InvalidArgumentError('input.text must be a string');
    const enter = m.enter === true;
    if (hello.mode === 'read-only') throw new PermissionDeniedError('this viewer is read-only: it cannot type');
    if (m.paste === true) {
      const r = relay;
      const text = m.text;
      pastes = pastes.then(() => paste(r, text, enter)).catch((err: unknown) => refuse(ws, err));
      return;
    }
    const bytes = Buffer.from(m.text + (enter ? '\r' : ''), 'utf8');
    for (let i = 0; i < bytes.length; i += MAX_INPUT_BYTES) relay.send({ kind: 'input', data: bytes.subarray(i, i + MAX_INPUT_BYTES) });
  }

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    try {
      onMessage(data, isBinary);
    } catch (err) {
      if (!isHapiError(err)) o.log.error({ err }, 'attach socket message failed');
      refuse(ws, err);
    }
  });
  ws.on('close', () => {
    clearTimeout(helloTimer);
    relay?.close();
  });
  ws.on('error', (err) => o.log.debug({ err }, 'attach socket error'));
}
