/**
 * A small gRPC server on node:http2, for the session process: the counterpart of the node:http2
 * clients (grpc-unary-client.ts, grpc-bidi-client.ts). It serves one service of the contract
 * (a ts-proto definition and a nice-grpc style implementation) over a Unix socket: unary calls
 * and bidirectional streams, uncompressed messages, the status in the trailers.
 *
 * Why not grpc-js, as the runner and the hub use: a session process lives as long as its agent,
 * one per agent, and grpc-js made up some 5 MB of its idle memory and several layers of copies on
 * every output chunk a viewer gets. The wire format is small and fixed (grpc-wire.ts); node:http2
 * does the HTTP/2 (framing, flow control, pings). grpc-js and nice-grpc clients talk to it as to
 * any gRPC server (test: grpc-http2-server.test.ts).
 */
import { createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { ServerError, Status, type CallContext } from 'nice-grpc-common';
import { isAbortError } from 'abort-controller-x';
import { isHapiError } from './errors.js';
import { toServerError } from './grpc-errors.js';
import { EncodedMessage, createFrameReader, drainOrClose, writeGrpcMessage } from './grpc-wire.js';

interface MessageType {
  decode(input: Uint8Array): unknown;
  encode(message: never): { finish(): Uint8Array };
}

/** A ts-proto (nice-grpc flavour) service definition. */
export interface GrpcServiceDefinition {
  fullName: string;
  methods: Record<string, { name: string; requestType: MessageType; responseType: MessageType; requestStream: boolean; responseStream: boolean }>;
}

type Handler = (request: unknown, context: CallContext) => unknown;

export interface GrpcHttp2ServerOptions {
  /** Told about an error that is not a HapiError (it reaches the caller as INTERNAL, without its text). */
  onUnexpectedError(err: unknown, method: string): void;
  /** Largest request message accepted (RESOURCE_EXHAUSTED past it). Default 4 MiB, as grpc-js. */
  maxMessageBytes?: number;
}

export interface GrpcHttp2Server {
  /** Listens on a Unix socket path. */
  listen(path: string): Promise<void>;
  /** Serves a connection accepted by another listener (socket-handover.ts), paused or not, as its own. */
  accept(socket: Socket): void;
  /** Stops accepting calls and resolves once the open ones ended. */
  shutdown(): Promise<void>;
  /** Ends every connection at once. */
  forceShutdown(): void;
}

/** Client messages read but not taken yet, before reading the stream pauses. */
const HIGH_WATER_MESSAGES = 64;

export function createGrpcHttp2Server(definition: GrpcServiceDefinition, implementation: object, o: GrpcHttp2ServerOptions): GrpcHttp2Server {
  const methods = new Map(Object.entries(definition.methods).map(([key, m]) => [`/${definition.fullName}/${m.name}`, { ...m, handler: (implementation as Record<string, Handler>)[key]! }]));
  const maxMessageBytes = o.maxMessageBytes ?? 4 * 1024 * 1024;
  const sessions = new Set<Http2Session>();
  let open = 0;
  let allEnded: (() => void) | undefined;
  const server: Http2Server = createServer();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {
      // A peer that vanished: its streams end with it.
    });
  });
  server.on('stream', (stream, headers) => {
    open++;
    // A call counts as ended once its stream closed: its trailers are out, not just queued.
    const closed = stream.closed ? Promise.resolve() : once(stream, 'close').catch(() => {});
    void serve(stream, headers)
      .then(() => closed)
      .finally(() => {
        if (--open === 0) allEnded?.();
      });
  });

  async function serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    stream.on('error', () => {
      // Reset by the peer: the call's signal is aborted below.
    });
    const path = String(headers[':path']);
    const method = methods.get(path);
    if (!String(headers['content-type'] ?? '').startsWith('application/grpc')) {
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    if (!method) return finishEarly(stream, Status.UNIMPLEMENTED, `unknown method ${path}`);
    const abort = new AbortController();
    stream.once('close', () => abort.abort());
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    let status = Status.OK;
    let details = '';
    try {
      const requests = readRequests(stream, method.requestType, maxMessageBytes);
      const context = { signal: abort.signal } as CallContext;
      if (method.responseStream) {
        const input = method.requestStream ? requests : await single(requests);
        for await (const response of method.handler(input, context) as AsyncIterable<unknown>) {
          if (!(await write(stream, method.responseType, response))) break;
        }
      } else {
        const input = method.requestStream ? requests : await single(requests);
        const response = await (method.handler(input, context) as Promise<unknown>);
        await write(stream, method.responseType, response);
      }
    } catch (err) {
      if (abort.signal.aborted && isAbortError(err)) return;
      if (!(err instanceof ServerError) && !isHapiError(err)) o.onUnexpectedError(err, path);
      const mapped = toServerError(err);
      status = mapped.code;
      details = mapped.details;
    }
    if (stream.destroyed || stream.closed) return;
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(status), ...(details ? { 'grpc-message': encodeURIComponent(details) } : {}) }));
    stream.end();
  }

  return {
    async listen(path) {
      server.listen(path);
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
    },
    accept(socket) {
      server.emit('connection', socket);
      // HTTP/2 reads from the socket's handle once it reads at all: a connection accepted
      // paused (pauseOnConnect) starts now, into the session just set up.
      socket.resume();
    },
    async shutdown() {
      server.close();
      for (const s of sessions) s.close();
      if (open > 0) await new Promise<void>((r) => (allEnded = r));
    },
    forceShutdown() {
      server.close();
      for (const s of sessions) s.destroy();
    },
  };
}

/** A call refused before it started: the status in the headers (trailers-only). */
function finishEarly(stream: ServerHttp2Stream, code: Status, message: string): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) }, { endStream: true });
}

/**
 * Writes one message (an EncodedMessage as it is), waiting while the peer's window is full;
 * false once the stream is gone.
 */
async function write(stream: ServerHttp2Stream, type: MessageType, message: unknown): Promise<boolean> {
  if (stream.destroyed || stream.closed) return false;
  const ok = message instanceof EncodedMessage ? writeGrpcMessage(stream, message.parts, message.written) : writeGrpcMessage(stream, type.encode(message as never).finish());
  if (ok) return true;
  await drainOrClose(stream);
  return !stream.destroyed && !stream.closed;
}

async function single<T>(requests: AsyncIterable<T>): Promise<T> {
  for await (const r of requests) return r;
  throw new ServerError(Status.INVALID_ARGUMENT, 'no request message');
}

/** The client's messages, decoded, as they come; pauses reading while HIGH_WATER_MESSAGES wait. */
function readRequests(stream: ServerHttp2Stream, type: MessageType, maxBytes: number): AsyncIterable<unknown> {
  const queue: unknown[] = [];
  let failure: ServerError | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const reader = createFrameReader({
    maxBytes,
    onMessage(payload) {
      try {
        queue.push(type.decode(payload));
      } catch (err) {
        failure ??= new ServerError(Status.INVALID_ARGUMENT, `malformed message: ${(err as Error).message}`);
      }
    },
    onError(code, message) {
      failure ??= new ServerError(code, message);
    },
  });
  stream.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    if (queue.length >= HIGH_WATER_MESSAGES) stream.pause();
    notify();
  });
  const end = () => {
    ended = true;
    notify();
  };
  stream.once('end', end);
  stream.once('close', end);
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length > 0) {
          if (queue.length <= HIGH_WATER_MESSAGES / 2 && stream.isPaused()) stream.resume();
          yield queue.shift();
          continue;
        }
        if (failure) throw failure;
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}
