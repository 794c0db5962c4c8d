/**
 * A small gRPC client for unary calls over a Unix socket, on node:http2 and the generated
 * message codecs. The CLI's commands only make unary calls; loading grpc-js for them costs
 * ~40 ms of cold start per command (see bench/runner.mjs), so short-lived processes use this,
 * while the daemons, the hub and streaming calls use grpc-js/nice-grpc. It speaks the standard
 * gRPC wire protocol (length-prefixed messages, grpc-status trailers), so it works against any
 * gRPC server.
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { ClientError, Status } from 'nice-grpc-common';
import { grpcFrame, trackGrpcStatus } from './grpc-wire.js';

interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: unknown): T;
}

interface MethodDef {
  name: string;
  requestStream: boolean;
  responseStream: boolean;
  requestType: MessageCodec<any>;
  responseType: MessageCodec<any>;
}

interface ServiceDef {
  fullName: string;
  methods: Record<string, MethodDef>;
}

/** The unary methods of a service definition, as `(request, { signal }) => Promise<response>`. */
export type UnaryClient<D extends ServiceDef> = {
  [K in keyof D['methods'] as D['methods'][K]['responseStream'] extends false ? K : never]: (
    request: Parameters<D['methods'][K]['requestType']['fromPartial']>[0],
    options?: { signal?: AbortSignal },
  ) => Promise<ReturnType<D['methods'][K]['responseType']['decode']>>;
};

export interface UnaryChannel {
  close(): void;
}

function abortError(): Error {
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}

/** Creates a unary-only client for `definition` on the Unix socket at `socketPath`. */
export function createUnaryClient<D extends ServiceDef>(definition: D, socketPath: string): { client: UnaryClient<D>; channel: UnaryChannel } {
  let session: ClientHttp2Session | undefined;
  // The session keeps the process alive only while calls are in flight.
  let inFlight = 0;
  const getSession = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const s = connect('http://localhost', { createConnection: () => netConnect(socketPath) });
    s.on('error', () => {
      // Errors surface on the individual streams.
    });
    s.unref();
    session = s;
    return s;
  };

  const call = (method: MethodDef & { path: string }, request: unknown, options: { signal?: AbortSignal } = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) {
        reject(abortError());
        return;
      }
      const payload = method.requestType.encode(method.requestType.fromPartial(request ?? {})).finish();
      let stream: ReturnType<ClientHttp2Session['request']>;
      try {
        stream = getSession().request({
          ':method': 'POST',
          ':path': method.path,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
      } catch (err) {
        reject(new ClientError(method.path, Status.UNAVAILABLE, (err as Error).message));
        return;
      }
      const owner = session!;
      if (inFlight++ === 0) owner.ref();
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        if (--inFlight === 0 && !owner.destroyed) owner.unref();
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => {
        stream.close();
        finish(() => reject(abortError()));
      };
      signal?.addEventListener('abort', onAbort);
      const status = trackGrpcStatus(stream);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err: NodeJS.ErrnoException) => {
        finish(() => reject(new ClientError(method.path, Status.UNAVAILABLE, err.message)));
      });
      stream.on('close', () => {
        finish(() => {
          if (status.code === undefined) {
            reject(new ClientError(method.path, Status.UNAVAILABLE, 'connection closed without a gRPC status'));
            return;
          }
          if (status.code !== Status.OK) {
            reject(new ClientError(method.path, status.code, status.message));
            return;
          }
          const body = Buffer.concat(chunks);
          if (body.length < 5) {
            reject(new ClientError(method.path, Status.INTERNAL, 'response without a message'));
            return;
          }
          const len = body.readUInt32BE(1);
          try {
            resolve(method.responseType.decode(body.subarray(5, 5 + len)));
          } catch (err) {
            reject(new ClientError(method.path, Status.INTERNAL, `bad response: ${(err as Error).message}`));
          }
        });
      });
      stream.end(grpcFrame(payload));
    });

  const client: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition.methods)) {
    if (method.requestStream || method.responseStream) continue;
    const withPath = { ...method, path: `/${definition.fullName}/${method.name}` };
    client[name] = (request: unknown, options?: { signal?: AbortSignal }) => call(withPath, request, options);
  }
  return {
    client: client as UnaryClient<D>,
    channel: {
      close() {
        session?.close();
        session = undefined;
      },
    },
  };
}
