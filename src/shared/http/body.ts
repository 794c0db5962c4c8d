/**
 * The one request body reader: a size limit answered with 413 (from Content-Length before
 * anything is read, else as soon as the stream passes it), Content-Type checked (415), and JSON
 * that is not an object answered with 400 naming the problem. An empty body is `{}`.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { HttpError } from './errors.js';

export interface ReadBodyOptions {
  /** Largest body accepted, in bytes. */
  limit: number;
}

export interface ReadJsonOptions extends ReadBodyOptions {
  /**
   * `always`: Content-Type must be application/json even without a body (a browser cannot send
   * that type cross-site without a CORS preflight, so it guards endpoints with no other CSRF
   * defence). `with-body`: only a non-empty body must declare it.
   */
  contentType: 'always' | 'with-body';
}

/** How long a refused request's connection waits, idle, for the client to finish and close. */
const LINGER_IDLE_MS = 5_000;
/** How much more of a refused body is read (and dropped) before the connection is cut. */
const LINGER_MAX_BYTES = 64 * 1024 * 1024;

/**
 * 413 with `Connection: close`. The connection cannot be reused (the rest of the body is still
 * on its way), and closing it outright while that body arrives makes the kernel answer with a
 * reset, which can destroy the 413 before the client reads it. So the rest of the body is read
 * and dropped, and once the response is written the socket is only half-closed (FIN) until the
 * client closes its side, goes quiet for LINGER_IDLE_MS, or sends LINGER_MAX_BYTES more (a
 * "lingering close", as nginx and Apache do).
 */
function tooLarge(req: IncomingMessage, limit: number): HttpError {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_MAX_BYTES) req.socket.destroy();
  });
  lingerOnClose(req.socket);
  return new HttpError(413, 'ResourceExhausted', `request body larger than ${limit} bytes`, { connection: 'close' });
}

/**
 * node:http closes a `Connection: close` response's socket with destroySoon() once the
 * response is written, which would reset it while the body still arrives; this socket's
 * destroySoon half-closes and lingers instead.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket) {
    this.setTimeout(LINGER_IDLE_MS, () => this.destroy());
    this.end();
  };
}

/** Reads the whole body; 413 once it passes `limit` (the rest is dropped, see tooLarge). */
export function readBody(req: IncomingMessage, opts: ReadBodyOptions): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > opts.limit) return Promise.reject(tooLarge(req, opts.limit));
  // Events rather than `for await`: leaving that loop early destroys the request, and with it
  // the socket, before the 413 is written.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= opts.limit) return void chunks.push(chunk);
      done();
      reject(tooLarge(req, opts.limit));
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(new InvalidArgumentError('the request was cut off before its body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Whether the request declares a JSON body (parameters such as charset allowed). */
export function isJsonContentType(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json';
}

function requireJsonType(req: IncomingMessage): void {
  if (!isJsonContentType(req)) throw new HttpError(415, 'InvalidArgument', 'Content-Type must be application/json');
}

/** Reads a JSON object body: 413 too large, 415 wrong type, 400 malformed or not an object. */
export async function readJsonObject(req: IncomingMessage, opts: ReadJsonOptions): Promise<Record<string, unknown>> {
  if (opts.contentType === 'always') requireJsonType(req);
  const raw = await readBody(req, opts);
  if (raw.length === 0) return {};
  if (opts.contentType === 'with-body') requireJsonType(req);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`request body is malformed JSON: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError('request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}
