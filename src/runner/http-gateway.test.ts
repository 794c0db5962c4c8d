// The gateway's request handling over a real socket, with a stand-in for RunnerControl: the
// documented shapes, and every refusal (browser headers, Host, token, type, size, method).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { silentLogger } from '../shared/logger.js';
import { startGateway, type Gateway } from './http-gateway.js';
import type { RunnerControl } from './runner-control.js';

const TOKEN = 'gateway-test-token';
const stops: string[] = [];
const control = {
  listSessions: async () => [{ id: 's-1', pid: 42, startedBy: 'runner' }],
  spawnSession: async (spec: { directory: string }) => ({ kind: 'approval-required', directory: spec.directory }),
  stopRunner: (why: string) => stops.push(why),
} as unknown as RunnerControl;

let gateway: Gateway;
beforeAll(async () => {
  gateway = await startGateway({ control, token: TOKEN, log: silentLogger() });
});
afterAll(() => gateway.close());

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

function post(path: string, body: string | undefined, headers: Record<string, string> = {}, method = 'POST'): Promise<Reply> {
  const all = { host: `127.0.0.1:${gateway.port}`, 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gateway.port, path, method, headers: all }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP gateway', () => {
  it('answers with the documented shapes', async () => {
    expect(await post('/list', '{}')).toMatchObject({ status: 200, body: { children: [{ startedBy: 'runner', happySessionId: 's-1', pid: 42 }] } });
    expect(await post('/list', '')).toMatchObject({ status: 200 });
    const approval = await post('/spawn-session', JSON.stringify({ directory: '/new' }));
    expect(approval.status).toBe(409);
    expect(approval.body).toEqual({ success: false, requiresUserApproval: true, actionRequired: 'CREATE_DIRECTORY', directory: '/new' });
    expect(await post('/stop', '{}')).toMatchObject({ status: 200, body: { status: 'stopping' } });
    expect(stops).toEqual(['cli']);
  });

  it('refuses browsers, foreign hosts and callers without the token', async () => {
    const cases: Array<[string, Record<string, string>, number, RegExp]> = [
      ['origin', { origin: 'http://evil.example' }, 403, /Origin or Referer/],
      ['referer', { referer: 'http://evil.example/' }, 403, /Origin or Referer/],
      ['host', { host: `evil.example:${gateway.port}` }, 403, /unexpected Host/],
      ['other port', { host: `127.0.0.1:1` }, 403, /unexpected Host/],
      ['no token', { authorization: '' }, 401, /bearer token/],
      ['wrong token', { authorization: `Bearer ${TOKEN}x` }, 401, /bearer token/],
      ['other scheme', { authorization: `Basic ${TOKEN}` }, 401, /bearer token/],
      ['content type', { 'content-type': 'text/plain' }, 415, /application\/json/],
    ];
    for (const [name, headers, status, message] of cases) {
      const r = await post('/list', '{}', headers);
      expect(r.status, name).toBe(status);
      expect(r.body, name).toMatchObject({ success: false, error: expect.stringMatching(message), code: expect.any(String) });
    }
    expect((await post('/list', '{}', { authorization: '' })).headers['www-authenticate']).toBe('Bearer');
    expect((await post('/list', '{}', { host: `localhost:${gateway.port}` })).status).toBe(200);
  });

  it('answers 404, 405 with Allow, 413 and 400 in the one error body', async () => {
    expect(await post('/nope', '{}')).toMatchObject({ status: 404, body: { success: false, code: 'NotFound', error: expect.stringMatching(/no route/) } });
    const wrong = await post('/list', undefined, {}, 'GET');
    expect(wrong).toMatchObject({ status: 405, body: { success: false, code: 'InvalidArgument', error: expect.stringMatching(/not allowed/) } });
    expect(wrong.headers.allow).toBe('POST');
    const big = await post('/session-started', `{"x":"${'a'.repeat(1024 * 1024)}"}`);
    expect(big).toMatchObject({ status: 413, body: { success: false, code: 'ResourceExhausted', error: expect.stringMatching(/larger than/) } });
    expect(await post('/session-started', '{"sessionId":')).toMatchObject({ status: 400, body: { code: 'InvalidArgument', error: expect.stringMatching(/malformed JSON/) } });
    expect(await post('/stop-session', '{}')).toMatchObject({ status: 400, body: { error: 'field "sessionId" is required' } });
  });
});
