/**
 * The one request body reader: a size limit answered with 413 (from Content-Length before
 * anything is read, else as soon as the stream passes it), Content-Type checked (415), and JSON
 * that is not an object answered with 400 naming the problem. An empty body is `{}`.
 */
import type { IncomingMessage } from 'node:http';
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

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'ResourceExhausted', `request body larger than ${limit} bytes`);
}

/** Reads the whole body; 413 once it passes `limit` (the rest is not read). */
export async function readBody(req: IncomingMessage, opts: ReadBodyOptions): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > opts.limit) throw tooLarge(opts.limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > opts.limit) throw tooLarge(opts.limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
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
