// The runner's unary calls to a session's socket (GetInfo, every 2 s per live session while a hub
// link polls activity) go on one kept connection per session rather than a new HTTP/2 connection
// each: counted at the socket. A connection the session closed is replaced by the next call.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetInfoResponse } from '../gen/hapi/session/v1/session.js';
import { grpcFrame } from '../src/shared/grpc-wire.js';
import { getTerminalInfo, keptConnections } from '../src/runner/terminals/session-link.js';

let server: Http2Server | undefined;
let dir: string | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A session's socket answering GetInfo, counting the connections made to it. */
async function sessionSocket() {
  dir = mkdtempSync(join(tmpdir(), 'hapi-kept-'));
  const socket = join(dir, 's.sock');
  const sessions: ServerHttp2Session[] = [];
  const s = createServer();
  server = s;
  s.on('session', (x) => sessions.push(x));
  s.on('stream', (stream, headers) => {
    expect(headers[':path']).toBe('/hapi.session.v1.SessionService/GetInfo');
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(grpcFrame(GetInfoResponse.encode(GetInfoResponse.fromPartial({ id: 'x', protocolVersion: 1, outputOffset: sessions.length })).finish()));
    });
  });
  s.listen(socket);
  await once(s, 'listening');
  return { socket, sessions };
}

describe("the runner's calls to a session's socket", () => {
  it('go on one kept connection; a closed one is replaced by the next call', async () => {
    const { socket, sessions } = await sessionSocket();
    const before = keptConnections();
    for (let i = 0; i < 5; i++) expect((await getTerminalInfo(socket, AbortSignal.timeout(10_000))).protocolVersion).toBe(1);
    expect(sessions).toHaveLength(1);
    expect(keptConnections()).toBe(before + 1);

    // The session ended that connection (say it restarted): the next call opens another.
    sessions[0]!.destroy();
    await once(sessions[0]!, 'close');
    let info: Awaited<ReturnType<typeof getTerminalInfo>> | undefined;
    for (let i = 0; i < 3 && !info; i++) info = await getTerminalInfo(socket, AbortSignal.timeout(10_000)).catch(() => undefined);
    expect(info?.protocolVersion).toBe(1);
    for (let i = 0; i < 3; i++) await getTerminalInfo(socket, AbortSignal.timeout(10_000));
    expect(sessions).toHaveLength(2);
  });
});
