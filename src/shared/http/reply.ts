/**
 * The JSON writer of every HTTP surface, and the wrapper that turns a handler's result or error
 * into a response: a handler returns `[status, body]`, or nothing when it wrote the response
 * itself (an event stream, a static file); whatever it throws becomes the one error body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { isHapiError } from '../errors.js';
import { toHttpError } from './errors.js';

/** What a JSON handler answers: a status and a body to encode. */
export type JsonReply = readonly [status: number, body: unknown];

/** Writes `body` as JSON. Responses are never cached and never sniffed as another type. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

/**
 * Answers with the error body of `err`; logs errors that are not domain errors (their message
 * never reaches the client). A response already under way can only be cut off.
 */
export function sendError(res: ServerResponse, err: unknown, log?: Pick<Logger, 'error'>): void {
  if (!isHapiError(err)) log?.error({ err }, 'unexpected error in HTTP handler');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const [status, body, headers] = toHttpError(err);
  sendJson(res, status, body, headers);
}

/** A node:http handler that resolves when it is done with the request (extra arguments pass through). */
export type HttpHandler<A extends unknown[] = []> = (req: IncomingMessage, res: ServerResponse, ...args: A) => Promise<void>;

/** Wraps a JSON handler: its reply is written with sendJson, anything it throws with sendError. */
export function jsonHandler<A extends unknown[] = []>(
  handle: (req: IncomingMessage, res: ServerResponse, ...args: A) => Promise<JsonReply | void>,
  log?: Pick<Logger, 'error'>,
): HttpHandler<A> {
  return async (req, res, ...args) => {
    try {
      const reply = await handle(req, res, ...args);
      if (reply) sendJson(res, reply[0], reply[1]);
    } catch (err) {
      sendError(res, err, log);
    }
  };
}
