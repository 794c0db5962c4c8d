/**
 * One gRPC bidirectional-streaming call over a Unix socket or to a gRPC server's URL (plain h2c
 * for http://, TLS with ALPN h2 for https://, as the hub serves both), on node:http2 (as
 * grpc-unary-client.ts does for unary calls): a terminal attaching to a session is a short-lived
 * CLI process whose start-up latency a person feels, and grpc-js costs ~40 ms of it. It speaks
 * the standard gRPC wire protocol (length-prefixed messages, grpc-status trailers), uncompressed.
 *
 * Flow control is HTTP/2's own: while the consumer has not taken the messages already read, the
 * stream is paused, so the server sees a slow reader as a full window.
 */
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as netConnect, isIP } from 'node:net';
import { ClientError, Status } from 'nice-grpc-common';
import { createFrameReader, drainOrClose, grpcFrame, trackGrpcStatus, writeParts } from './grpc-wire.js';
import { hubTrustedCas } from './tls-trust.js';

/**
 * An attach stream's HTTP/2 receive window (stream and connection; one connection per attach),
 * for the runner reading a session and for `hapi attach`.
 * HTTP/2's default 64 KiB is about one output message of the session: it could send the next
 * only after the viewer read the last and its WINDOW_UPDATE went back, a round trip through
 * both event loops per message. A window of several messages lets them flow while the viewer
 * forwards or draws them; it bounds what one attach buffers at the viewer.
 */
export const ATTACH_WINDOW_BYTES = 1024 * 1024;

export interface BidiCallOptions<Req, Res> {
  /** The server: a Unix socket's path, or a URL (http://host:port, https://host:port). */
  socketPath?: string;
  url?: string;
  /** Or a connection of the caller's (several calls on one); it stays open when the call ends. */
  session?: ClientHttp2Session;
  /** Extra request headers (the hub's `authorization: Bearer <token>`). */
  headers?: Record<string, string>;
  /** `/package.Service/Method`. */
  path: string;
  encode(message: Req): Uint8Array;
  decode(bytes: Uint8Array): Res;
  /**
   * HTTP/2 receive window (stream and connection) for the server's messages; Node's default is
   * 64 KiB, about one output message of a session, so each further one waits for a round trip.
   */
  windowBytes?: number;
  /** Bytes of messages read but not taken before the stream is paused (besides HIGH_WATER_MESSAGES). */
  highWaterBytes?: number;
}

export interface BidiCall<Req, Res> {
  /** Sends one message; ignored once the call has ended. */
  send(message: Req): void;
  /**
   * Sends a whole gRPC frame the caller built (one buffer, or its parts, written corked one after
   * the other and not copied: they must not change until written); false when the stream has
   * more waiting than it wants (then wait for `drained()`). Ignored (true) once the call has ended.
   */
  write(frame: Uint8Array | readonly Uint8Array[]): boolean;
  /** Resolves once the stream wants more, or the call ended. */
  drained(): Promise<void>;
  /** Half-closes: no more messages from this side. */
  end(): void;
  /** Cancels the call and closes the connection. */
  cancel(): void;
  /**
   * The server's messages in order. Ends when the server ends the call with OK; throws a
   * ClientError with the call's status otherwise (UNAVAILABLE when the connection failed or
   * dropped, CANCELLED after cancel()).
   */
  readonly messages: AsyncIterable<Res>;
}

/** TLS to a hub: the trusted CAs, and no SNI for an IP address (RFC 6066 allows host names only). */
function tlsOptions(url: string): { ca?: Buffer; servername?: string } {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return { ca: hubTrustedCas(), ...(isIP(host) ? { servername: '' } : {}) };
}

/** Messages read but not yet taken before the stream is paused. */
const HIGH_WATER_MESSAGES = 64;

export function openBidiCall<Req, Res>(o: BidiCallOptions<Req, Res>): BidiCall<Req, Res> {
  const socketPath = o.socketPath;
  const settings = o.windowBytes ? { settings: { initialWindowSize: o.windowBytes } } : {};
  const own = o.session === undefined;
  const session: ClientHttp2Session =
    o.session ??
    (socketPath !== undefined
      ? connect('http://localhost', { ...settings, createConnection: () => netConnect(socketPath) })
      : // Node's TLS reads NODE_EXTRA_CA_CERTS itself; this HAPI_HOME's private hub CA is added here.
        connect(o.url ?? 'http://localhost', { ...settings, ...(o.url?.startsWith('https:') ? tlsOptions(o.url) : {}) }));
  if (own) {
    session.on('error', () => {
      // Surfaces on the stream.
    });
  }
  const windowBytes = o.windowBytes;
  if (windowBytes && own) {
    session.once('connect', () => {
      try {
        session.setLocalWindowSize(windowBytes);
      } catch {
        // Closed meanwhile.
      }
    });
  }
  const highWaterBytes = o.highWaterBytes ?? Number.POSITIVE_INFINITY;
  const queue: Res[] = [];
  const sizes: number[] = [];
  let queuedBytes = 0;
  let failure: ClientError | undefined;
  let done = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const finish = (err?: ClientError) => {
    if (done) return;
    done = true;
    failure = err;
    if (own) session.close();
    notify();
  };

  const stream: ClientHttp2Stream = session.request({ ...o.headers, ':method': 'POST', ':path': o.path, 'content-type': 'application/grpc', te: 'trailers' });
  const status = trackGrpcStatus(stream);

  const reader = createFrameReader({
    onMessage(payload) {
      if (done) return;
      try {
        queue.push(o.decode(payload));
        sizes.push(payload.length);
        queuedBytes += payload.length;
      } catch (err) {
        stream.close();
        finish(new ClientError(o.path, Status.INTERNAL, `bad message: ${(err as Error).message}`));
      }
    },
    onError(code, message) {
      stream.close();
      finish(new ClientError(o.path, code, message));
    },
  });
  stream.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    if (queue.length >= HIGH_WATER_MESSAGES || queuedBytes >= highWaterBytes) stream.pause();
    notify();
  });
  // The server ended its side (its status came with the trailers): the call is over, even though
  // this side never half-closed (a viewer has no last message), so 'close' would not come yet.
  stream.on('end', () => {
    if (status.code === undefined) return;
    finish(status.code === Status.OK ? undefined : new ClientError(o.path, status.code, status.message));
    stream.close();
  });
  stream.on('error', (err: Error) => finish(new ClientError(o.path, Status.UNAVAILABLE, err.message)));
  stream.on('close', () => {
    if (status.code === undefined) finish(new ClientError(o.path, Status.UNAVAILABLE, 'connection closed without a gRPC status'));
    else if (status.code !== Status.OK) finish(new ClientError(o.path, status.code, status.message));
    else finish();
  });

  return {
    send(message) {
      if (!done && !stream.destroyed && stream.writable) stream.write(grpcFrame(o.encode(message)));
    },
    write(frame) {
      if (done || stream.destroyed || !stream.writable) return true;
      return frame instanceof Uint8Array ? stream.write(frame) : writeParts(stream, frame);
    },
    drained() {
      return done || stream.destroyed || !stream.writableNeedDrain ? Promise.resolve() : drainOrClose(stream);
    },
    end() {
      if (!done && stream.writable) stream.end();
    },
    cancel() {
      if (done) return;
      stream.close();
      finish(new ClientError(o.path, Status.CANCELLED, 'cancelled by the client'));
    },
    messages: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = queue.shift();
          if (next !== undefined) {
            queuedBytes -= sizes.shift()!;
            if (queue.length < HIGH_WATER_MESSAGES / 2 && queuedBytes < highWaterBytes / 2 && stream.isPaused()) stream.resume();
            yield next;
            continue;
          }
          if (done) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((r) => (wake = r));
        }
      },
    },
  };
}
