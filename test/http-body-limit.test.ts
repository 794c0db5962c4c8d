// Bodies over the limit on every HTTP surface (the runner's gateway, the hub's REST view, the
// web page's sign-in), with Content-Length and chunked, over a raw socket: the client gets the
// whole 413 with `Connection: close`, then a clean close (FIN), never a reset.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { cleanupAllHomes, createTestHome, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Whether the body is as long as Content-Length says. */
  complete: boolean;
  /** How the connection ended: 'end' (FIN from the server) or the socket error's code. */
  ended: string;
  /** Socket errors the client saw (ECONNRESET, EPIPE on its own writes, ...). */
  errors: string[];
}

const MiB = 1024 * 1024;

/**
 * Sends one POST over a raw socket (`chunked`: a chunked body in 64 KiB chunks, else with
 * Content-Length), keeps sending the whole body like a plain client does, and reads until the
 * server closes.
 */
function rawPost(port: number, path: string, headers: Record<string, string>, size: number, chunked: boolean): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let ended = '';
    const errors: string[] = [];
    const finish = () => {
      const text = Buffer.concat(received).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no complete response head (${ended}): ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const h: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        h[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const body = text.slice(split + 4);
      resolve({
        status: Number(statusLine!.split(' ')[1]),
        headers: h,
        body,
        complete: h['content-length'] !== undefined && Buffer.byteLength(body, 'latin1') === Number(h['content-length']),
        ended,
        errors,
      });
    };
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('end', () => {
      ended ||= 'end';
      socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      ended ||= err.code ?? err.message;
      errors.push(err.code ?? err.message);
    });
    socket.on('close', finish);
    socket.on('connect', () => {
      const head = [
        `POST ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Content-Type: application/json',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`,
        '',
        '',
      ].join('\r\n');
      socket.write(head);
      const piece = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      const pump = () => {
        while (sent < size && !socket.destroyed) {
          const n = Math.min(piece.length, size - sent);
          sent += n;
          const data = chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')]) : piece.subarray(0, n);
          if (!socket.write(data)) return void socket.once('drain', pump);
        }
        if (chunked && !socket.destroyed) socket.write('0\r\n\r\n');
      };
      pump();
    });
  });
}

function expectClean413(r: RawReply, what: string): void {
  expect(r.status, what).toBe(413);
  expect(r.headers.connection?.toLowerCase(), what).toBe('close');
  expect(r.complete, `${what}: whole body received`).toBe(true);
  expect(JSON.parse(r.body), what).toMatchObject({ success: false, code: 'ResourceExhausted', error: expect.stringMatching(/request body larger than/) });
  expect(r.ended, `${what}: the server closes cleanly`).toBe('end');
  expect(r.errors, `${what}: no reset, and the whole body could be sent`).toEqual([]);
}

describe('bodies over the limit get a whole 413 with Connection: close and a clean close', () => {
  let runnerHome: TestHome;
  let hubHome: TestHome;
  let hub: HubProcess;
  let gateway: { port: number; token: string };
  let hubPort: number;

  beforeAll(async () => {
    runnerHome = createTestHome();
    const started = await runnerHome.cli(['runner', 'start']);
    expect(started.code, started.stderr).toBe(0);
    const state = runnerHome.state()!;
    gateway = { port: state.httpPort, token: state.controlToken };
    hubHome = createTestHome();
    hub = await startHubProcess(hubHome);
    hubPort = Number(new URL(hub.httpUrl).port);
  }, 60_000);

  afterAll(async () => {
    await hub?.stop('SIGKILL').catch(() => undefined);
    await runnerHome?.cleanup();
    await hubHome?.cleanup();
    await cleanupAllHomes();
  });

  for (const chunked of [false, true]) {
    const how = chunked ? 'chunked' : 'Content-Length';

    it(`runner gateway, ${how}`, async () => {
      const r = await rawPost(gateway.port, '/spawn-session', { Authorization: `Bearer ${gateway.token}` }, 4 * MiB, chunked);
      expectClean413(r, `gateway ${how}`);
    });

    it(`hub REST view, ${how}`, async () => {
      const r = await rawPost(hubPort, '/api/v1/machines/m1/sessions', { Authorization: `Bearer ${hub.ownerToken}` }, 4 * MiB, chunked);
      expectClean413(r, `REST ${how}`);
    });

    it(`web page sign-in, ${how}`, async () => {
      const r = await rawPost(hubPort, '/auth/login', { Origin: `http://127.0.0.1:${hubPort}` }, 1 * MiB, chunked);
      expectClean413(r, `web ${how}`);
    });
  }

  it('the servers keep serving afterwards', async () => {
    const res = await fetch(`${hub.httpUrl}/api/v1/machines`, { headers: { authorization: `Bearer ${hub.ownerToken}` } });
    expect(res.status).toBe(200);
    const list = await runnerHome.cli(['runner', 'list']);
    expect(list.code, list.stderr).toBe(0);
  });
});
