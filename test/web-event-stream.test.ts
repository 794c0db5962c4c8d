// The page's fetch-based event stream (used inside iframes, where the sign-in travels in a
// header), against a real HTTP server that splits events across writes.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openFetchEventStream } from '../web/src/event-stream.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('fetch event stream', () => {
  it('parses named events split across writes, CRLF lines, comments and multi-line data, and sends the headers', async () => {
    let seenHeader: string | undefined;
    const base = await serve((req, res) => {
      seenHeader = req.headers['x-hapi-session'] as string;
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(': hello\n\nevent: machine\ndata: {"id":');
      setTimeout(() => res.write('"m1"}\n\nevent: session\r\ndata: line1\r\ndata: line2\r\n\r\n'), 20);
      setTimeout(() => res.end('data: untyped\n\n'), 40);
    });
    const events: [string, string][] = [];
    let opened = 0;
    const lost = new Promise<number | undefined>((resolve) => {
      openFetchEventStream(`${base}/api/v1/events`, { 'X-Hapi-Session': 'sid' }, {
        open: () => opened++,
        event: (type, data) => events.push([type, data]),
        lost: resolve,
      });
    });
    expect(await lost).toBeUndefined();
    expect(opened).toBe(1);
    expect(seenHeader).toBe('sid');
    expect(events).toEqual([
      ['machine', '{"id":"m1"}'],
      ['session', 'line1\nline2'],
      ['message', 'untyped'],
    ]);
  });

  it('reports the HTTP status of a refused stream, and nothing after close()', async () => {
    const base = await serve((_req, res) => res.writeHead(401, { 'Content-Type': 'application/json' }).end('{}'));
    const status = await new Promise<number | undefined>((resolve) => {
      openFetchEventStream(`${base}/api/v1/events`, {}, { open: () => resolve(-1), event: () => {}, lost: resolve });
    });
    expect(status).toBe(401);

    const base2 = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(': open\n\n');
    });
    let lostCalls = 0;
    await new Promise<void>((resolve) => {
      const s = openFetchEventStream(`${base2}/api/v1/events`, {}, {
        open: () => {
          s.close();
          setTimeout(resolve, 50);
        },
        event: () => {},
        lost: () => lostCalls++,
      });
    });
    expect(lostCalls).toBe(0);
  });
});
