/**
 * The runner as a client of one session's socket (hapi.session.v1.SessionService): GetInfo and
 * GetScreen as unary calls on node:http2 (on a kept connection per session, up to MAX_KEPT: the
 * runner may track thousands of sessions and must not hold a connection to each), and Attach as
 * a bidi stream (grpc-js for a local viewer, node:http2 for the hub's pass-through). Failures come back as the domain errors of
 * src/shared/errors.ts, so the error middleware passes a session's status code on unchanged.
 */
import { ClientError, Status } from 'nice-grpc-common';
import { createClient } from 'nice-grpc';
import { SessionServiceDefinition } from '../../contract/session.js';
import { SESSION_ATTACH_PATH, encodedViewerMessage } from '../../contract/session-passthrough.js';
import { ATTACH_WINDOW_BYTES, openBidiCall } from '../../shared/grpc-bidi-client.js';
import type { ScreenText, SessionInput, TerminalInfo, ViewerEvent, ViewerMessage } from '../../contract/session-types.js';
import { screenFromProto, sessionInputToProto, terminalInfoFromProto, viewerEventFromProto, viewerMessageToProto } from '../../contract/session-viewer.js';
import { UnavailableError } from '../../shared/errors.js';
import { approvalDecisionCallToProto, approvalRequestFromProto } from '../../contract/activity.js';
import type { ApprovalRequestInfo } from '../../contract/activity-types.js';
import type { ApprovalDecisionCall } from '../../contract/types.js';
import { createUdsChannel } from '../../shared/grpc-channel.js';
import { fromClientError } from '../../shared/grpc-errors.js';
import { createUnaryClient } from '../../shared/grpc-unary-client.js';

export type SessionTerminalInfo = TerminalInfo & { protocolVersion: number };

/** Maps a call's failure: a connection that fails is Unavailable, a status is its domain error. */
function mapError(err: unknown, socket: string): unknown {
  if (err instanceof ClientError && err.code === Status.UNAVAILABLE) return new UnavailableError(`the session's socket ${socket} does not answer: ${err.details}`);
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return new UnavailableError(`the session's socket ${socket} did not answer in time`);
  return fromClientError(err);
}

type SessionUnaryClient = ReturnType<typeof createUnaryClient<typeof SessionServiceDefinition>>;

/**
 * Connections kept to sessions' sockets for the unary calls. The runner asks every live session
 * for GetInfo every 2 s while linked to a hub (and GetScreen when its output moved): a new
 * HTTP/2 connection each time cost both processes a connect, a SETTINGS exchange and a close
 * per call, which on a loaded machine is control latency. A connection is kept while it is used
 * and closed after KEEP_IDLE_MS without a call; at most MAX_KEPT are kept (the least recently
 * used is closed first), so a runner tracking thousands of sessions holds no more than that.
 * A connection that failed is dropped; the client reconnects by itself after its session closed.
 */
const KEEP_IDLE_MS = 10_000;
export const MAX_KEPT = 256;
const kept = new Map<string, { c: SessionUnaryClient; timer?: NodeJS.Timeout }>();

function keptClient(socket: string): SessionUnaryClient {
  let k = kept.get(socket);
  if (k) {
    // Most recently used last.
    kept.delete(socket);
    clearTimeout(k.timer);
  } else {
    k = { c: createUnaryClient(SessionServiceDefinition, socket) };
    for (const [oldest, old] of kept) {
      if (kept.size < MAX_KEPT) break;
      dropKept(oldest, old);
    }
  }
  const entry = k;
  kept.set(socket, entry);
  entry.timer = setTimeout(() => kept.get(socket) === entry && dropKept(socket, entry), KEEP_IDLE_MS);
  entry.timer.unref();
  return entry.c;
}

function dropKept(socket: string, entry: { c: SessionUnaryClient; timer?: NodeJS.Timeout }): void {
  clearTimeout(entry.timer);
  if (kept.get(socket) === entry) kept.delete(socket);
  entry.c.channel.close();
}

/** Sockets with a kept connection (tests). */
export function keptConnections(): number {
  return kept.size;
}

async function unary<T>(socket: string, fn: (client: SessionUnaryClient['client']) => Promise<T>): Promise<T> {
  const { client } = keptClient(socket);
  try {
    return await fn(client);
  } catch (err) {
    const mapped = mapError(err, socket);
    const entry = kept.get(socket);
    if (entry && mapped instanceof UnavailableError) dropKept(socket, entry);
    throw mapped;
  }
}

/** GetInfo of the session at `socket`. */
export function getTerminalInfo(socket: string, signal: AbortSignal): Promise<SessionTerminalInfo> {
  return unary(socket, async (c) => terminalInfoFromProto(await c.getInfo({}, { signal })));
}

/**
 * The visible screen of the session at `socket`; `noWait`: as parsed so far (GetScreenRequest.no_wait);
 * `textOnly`: without the ANSI form (GetScreenRequest.text_only).
 */
export function getTerminalScreen(socket: string, signal: AbortSignal, opts: { noWait?: boolean; textOnly?: boolean } = {}): Promise<ScreenText> {
  return unary(socket, async (c) => screenFromProto(await c.getScreen({ noWait: opts.noWait ?? false, textOnly: opts.textOnly ?? false }, { signal })));
}

/** SendInput to the session at `socket`. */
export async function sendTerminalInput(socket: string, input: SessionInput, signal: AbortSignal): Promise<void> {
  await unary(socket, (c) => c.sendInput(sessionInputToProto(input), { signal }));
}

/** DecideApproval on the session at `socket`: the request that was answered. */
export async function decideTerminalApproval(socket: string, call: ApprovalDecisionCall, signal: AbortSignal): Promise<ApprovalRequestInfo> {
  return unary(socket, async (c) => approvalRequestFromProto((await c.decideApproval(approvalDecisionCallToProto(call), { signal })).request ?? missingRequest()));
}

function missingRequest(): never {
  throw new UnavailableError("the session's answer to DecideApproval carried no request");
}

/**
 * Attach on the session's socket: `messages` (the hello first) go to the session, its events
 * come back in order. Ends when the session ends the stream, when `signal` aborts, or with the
 * session's error. The channel is closed when the iteration ends, however it ends.
 */
export function attachTerminal(socket: string, messages: AsyncIterable<ViewerMessage>, signal: AbortSignal): AsyncIterable<ViewerEvent> {
  return attachWith(socket, messages, signal, SessionServiceDefinition, viewerEventFromProto);
}

/**
 * The same, with the session's answers as it encoded them (AttachResponse bytes, views of what
 * was read), for the hub's pass-through: on node:http2 (grpc-bidi-client.ts) rather than
 * grpc-js, whose layers cost more per message than the pass-through itself. Reading pauses once
 * ATTACH_WINDOW_BYTES wait here untaken, so the session sees a slow hub as a full window.
 */
export async function* attachTerminalEncoded(socket: string, messages: AsyncIterable<ViewerMessage>, signal: AbortSignal): AsyncIterable<Uint8Array> {
  if (signal.aborted) return;
  const call = openBidiCall<ViewerMessage, Uint8Array>({
    socketPath: socket,
    path: SESSION_ATTACH_PATH,
    encode: encodedViewerMessage,
    decode: (bytes) => bytes,
    windowBytes: ATTACH_WINDOW_BYTES,
    highWaterBytes: ATTACH_WINDOW_BYTES,
  });
  const onAbort = () => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  void (async () => {
    try {
      for await (const m of messages) call.send(m);
      call.end();
    } catch {
      call.cancel();
    }
  })();
  try {
    for await (const r of call.messages) yield r;
  } catch (err) {
    if (signal.aborted) return;
    throw mapError(err, socket);
  } finally {
    signal.removeEventListener('abort', onAbort);
    call.cancel();
  }
}

const ATTACH_CHANNEL_OPTIONS = { 'grpc-node.flow_control_window': ATTACH_WINDOW_BYTES };

async function* attachWith<R, T>(
  socket: string,
  messages: AsyncIterable<ViewerMessage>,
  signal: AbortSignal,
  definition: typeof SessionServiceDefinition,
  convert: (r: R) => T,
): AsyncIterable<T> {
  const channel = createUdsChannel(socket, ATTACH_CHANNEL_OPTIONS);
  const client = createClient(definition, channel);
  async function* requests() {
    for await (const m of messages) yield viewerMessageToProto(m);
  }
  try {
    for await (const r of client.attach(requests(), { signal })) yield convert(r as unknown as R);
  } catch (err) {
    if (signal.aborted) return;
    throw mapError(err, socket);
  } finally {
    channel.close();
  }
}
