import { describe, expect, it } from 'vitest';
import { HapiError, NotFoundError } from '../errors.js';
import { HttpError } from './errors.js';
import { createRouteTable } from './routes.js';

const table = createRouteTable<string>([
  { method: '*', path: '/api/*', handler: 'mount' },
  { method: 'GET', path: '/api/v1/machines', handler: 'list-machines' },
  { method: 'POST', path: '/api/v1/machines/:machineId/sessions', handler: 'spawn' },
  { method: 'POST', path: '/api/v1/machines/:machineId/sessions/:sessionId/stop', handler: 'stop' },
  { method: 'GET', path: '/api/v1/machines/special/sessions', handler: 'literal-wins' },
  { method: 'GET', path: '/api/v1/events', handler: 'events' },
  { method: 'HEAD', path: '/api/v1/events', handler: 'events-head' },
  { method: 'GET', path: '/', handler: 'root' },
]);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('route table', () => {
  it('finds a route by method and path, with decoded params', () => {
    expect(table.lookup('GET', '/api/v1/machines')).toEqual({ handler: 'list-machines', params: {} });
    expect(table.lookup('post', '/api/v1/machines/m%201/sessions/s-1/stop')).toEqual({
      handler: 'stop',
      params: { machineId: 'm 1', sessionId: 's-1' },
    });
    expect(table.lookup('GET', '/')).toEqual({ handler: 'root', params: {} });
  });

  it('prefers the most specific pattern: literal, then param, then mount', () => {
    expect(table.lookup('GET', '/api/v1/machines/special/sessions').handler).toBe('literal-wins');
    expect(table.lookup('POST', '/api/v1/machines/other/sessions').handler).toBe('spawn');
    expect(table.lookup('DELETE', '/api/v2/anything/else')).toEqual({ handler: 'mount', params: { '*': 'v2/anything/else' } });
    expect(table.lookup('GET', '/api').params).toEqual({ '*': '' });
    expect(table.patterns().map((p) => p.path)).toEqual([
      '/',
      '/api/v1/events',
      '/api/v1/machines',
      '/api/v1/machines/special/sessions',
      '/api/v1/machines/:machineId/sessions',
      '/api/v1/machines/:machineId/sessions/:sessionId/stop',
      '/api/*',
    ]);
  });

  it('answers 405 with the allowed methods for a known path, 404 for an unknown one', () => {
    const wrong = thrown(() => table.lookup('POST', '/api/v1/events'));
    expect(wrong).toBeInstanceOf(HttpError);
    expect(wrong).toMatchObject({ status: 405, kind: 'InvalidArgument', headers: { allow: 'GET, HEAD' } });
    expect((wrong as Error).message).toMatch(/method POST not allowed on \/api\/v1\/events/);
    // The most specific match decides: the mount below it does not swallow a wrong method.
    expect(thrown(() => table.lookup('GET', '/api/v1/machines/m/sessions'))).toMatchObject({ status: 405, headers: { allow: 'POST' } });
    const unknown = thrown(() => table.lookup('GET', '/nope'));
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as Error).message).toBe('no route for GET /nope');
    expect(table.lookup('GET', '/api/v1/machines/extra/segments/here/x').handler).toBe('mount');
  });

  it('refuses a malformed path with 400', () => {
    const err = thrown(() => table.lookup('GET', '/api/v1/machines/%E0%A4%A/sessions'));
    expect(err).toBeInstanceOf(HapiError);
    expect((err as HapiError).kind).toBe('InvalidArgument');
  });

  it('refuses tables that would be ambiguous', () => {
    expect(() => createRouteTable([{ method: 'GET', path: '/a/:x', handler: 1 }, { method: 'GET', path: '/a/:y', handler: 2 }])).toThrow(/declared twice/);
    expect(() => createRouteTable([{ method: 'GET', path: '/a/*/b', handler: 1 }])).toThrow(/last segment/);
  });
});
