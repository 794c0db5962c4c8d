// The JSON HTTP layer over a real socket: body limits, content types, the one error body,
// 404/405 from the route table, and what unexpected errors reveal (nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NotFoundError, UnauthenticatedError } from '../errors.js';
import { readJsonObject, type ReadJsonOptions } from './body.js';
import { jsonHandler, type JsonReply } from './reply.js';
import { createRouteTable } from './routes.js';

type Handler = (req: IncomingMessage) => Promise<JsonReply>;

const errors: unknown[] = [];
const log = { error: (obj: unknown) => void errors.push(obj) };

const echo = (opts: ReadJsonOptions): Handler => async (req) => [200, { got: await readJsonObject(req, opts) }];

const table = createRouteTable<Handler>([
  { method: 'POST', path: '/strict', handler: echo({ limit: 64, contentType: 'always' }) },
  { method: 'POST', path: '/lenient', handler: echo({ limit: 64, contentType: 'with-body' }) },
  { method: 'GET', path: '/missing/:id', handler: async () => { throw new NotFoundError('no such thing', { thing: 'x' }); } },
  { method: 'GET', path: '/who', handler: async () => { throw new UnauthenticatedError(); } },
  { method: 'GET', path: '/boom', handler: async () => { throw new TypeError('secret internals'); } },
]);

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer(
    jsonHandler(async (req) => {
      const { handler } = table.lookup(req.method, new URL(req.url ?? '/', 'http://x').pathname);
      return handler(req);
    }, log),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** Raw node:http so that chunked bodies (no Content-Length) can be sent too. */
function call(method: string, path: string, body?: string, headers: Record<string, string> = {}, chunked = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    if (body !== undefined && chunked) {
      req.write(body.slice(0, 10));
      req.end(body.slice(10));
    } else req.end(body);
  });
}

const json = { 'content-type': 'application/json' };

describe('JSON HTTP layer', () => {
  it('parses a JSON object; an empty body is {}', async () => {
    expect(await call('POST', '/strict', '{"a":1}', { 'content-type': 'application/json; charset=utf-8' })).toMatchObject({ status: 200, body: { got: { a: 1 } } });
    expect(await call('POST', '/strict', '', json)).toMatchObject({ status: 200, body: { got: {} } });
    expect(await call('POST', '/lenient')).toMatchObject({ status: 200, body: { got: {} } });
  });

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const big = `{"x":"${'a'.repeat(100)}"}`;
    for (const chunked of [false, true]) {
      const r = await call('POST', '/strict', big, json, chunked);
      expect(r.status, `chunked: ${chunked}`).toBe(413);
      expect(r.body).toEqual({ success: false, error: 'request body larger than 64 bytes', code: 'ResourceExhausted' });
    }
  });

  it('answers 415 for a wrong content type: always, or only with a body', async () => {
    expect(await call('POST', '/strict', '')).toMatchObject({ status: 415, body: { success: false, code: 'InvalidArgument', error: 'Content-Type must be application/json' } });
    expect((await call('POST', '/strict', '{}', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await call('POST', '/lenient', '{}', { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('answers 400 naming the problem for malformed JSON or a body that is not an object', async () => {
    const malformed = await call('POST', '/strict', '{"a":', json);
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ success: false, code: 'InvalidArgument', error: expect.stringMatching(/^request body is malformed JSON: /) });
    for (const text of ['[1,2]', '"x"', 'null', '3']) {
      expect(await call('POST', '/strict', text, json), text).toMatchObject({ status: 400, body: { error: 'request body must be a JSON object' } });
    }
  });

  it('answers 404 and 405 (with Allow) from the route table in the one error shape', async () => {
    expect(await call('GET', '/nope')).toMatchObject({ status: 404, body: { success: false, code: 'NotFound', error: 'no route for GET /nope' } });
    const wrong = await call('GET', '/strict');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect(wrong.body).toMatchObject({ success: false, code: 'InvalidArgument', error: expect.stringMatching(/not allowed/) });
  });

  it('maps domain errors with their details, 401 with WWW-Authenticate, and hides unexpected ones', async () => {
    expect(await call('GET', '/missing/1')).toMatchObject({ status: 404, body: { success: false, error: 'no such thing', code: 'NotFound', thing: 'x' } });
    const who = await call('GET', '/who');
    expect(who).toMatchObject({ status: 401, body: { success: false, code: 'Unauthenticated' } });
    expect(who.headers['www-authenticate']).toBe('Bearer');
    const boom = await call('GET', '/boom');
    expect(boom).toMatchObject({ status: 500, body: { success: false, error: 'internal error', code: 'Internal' } });
    expect(JSON.stringify(boom.body)).not.toContain('secret');
    expect(errors).toHaveLength(1);
    expect(boom.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(boom.headers['cache-control']).toBe('no-store');
    expect(boom.headers['x-content-type-options']).toBe('nosniff');
  });
});
