import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { Status } from 'nice-grpc-common';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionServiceDefinition, type AttachRequest, type AttachResponse } from '../contract/session.js';
import { FailedPreconditionError } from './errors.js';
import { openBidiCall } from './grpc-bidi-client.js';
import { createGrpcHttp2Server, type GrpcHttp2Server } from './grpc-http2-server.js';
import { EncodedMessage, createFrameReader, grpcFrame } from './grpc-wire.js';
import { attachOutputParts } from '../contract/session-passthrough.js';
import { listenEarly } from '../session/terminal/socket-handover.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A SessionService whose Attach echoes input as output and whose GetInfo fails on demand. */
async function serve(opts: { failInfo?: 'domain' | 'bug'; outputs?: number; outputBytes?: number; encoded?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-h2s-'));
  const socket = join(dir, 's.sock');
  const unexpected: string[] = [];
  const cancelled: boolean[] = [];
  const written = { count: 0, buffers: 0 };
  const server: GrpcHttp2Server = createGrpcHttp2Server(
    SessionServiceDefinition,
    {
      async *attach(requests: AsyncIterable<AttachRequest>, context: { signal: AbortSignal }): AsyncIterable<AttachResponse> {
        context.signal.addEventListener('abort', () => cancelled.push(true));
        const size = opts.outputBytes ?? 1024;
        // Encoded: each output filled into a buffer used again once the stream is done with it
        // (as the session does); one refilled too early would arrive with the next one's bytes.
        const spare: Buffer[] = [];
        for (let i = 0; i < (opts.outputs ?? 0); i++) {
          if (!opts.encoded) {
            yield { kind: { $case: 'output', value: { offset: i * size, data: Buffer.alloc(size, i % 256) } } };
            continue;
          }
          const into = spare.pop() ?? (written.buffers++, Buffer.allocUnsafe(size));
          into.fill(i % 256);
          yield new EncodedMessage(attachOutputParts(i * size, into), () => (written.count++, spare.push(into))) as unknown as AttachResponse;
        }
        for await (const r of requests) {
          if (r.kind?.$case === 'input') yield { kind: { $case: 'output', value: { offset: 0, data: r.kind.value.data } } };
        }
      },
      async getScreen() {
        return { text: 'hello', ansi: 'hello', cursor: { x: 5, y: 0 }, cols: 80, rows: 24, offset: 5 };
      },
      async sendInput() {
        return {};
      },
      async resize() {
        return {};
      },
      async getInfo() {
        if (opts.failInfo === 'domain') throw new FailedPreconditionError('the agent has exited');
        if (opts.failInfo === 'bug') throw new TypeError('secret internals');
        return {};
      },
    },
    { onUnexpectedError: (err) => void unexpected.push((err as Error).message) },
  );
  await server.listen(socket);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => server.forceShutdown());
  const channel: Channel = createChannel(`unix://${socket}`);
  cleanups.push(() => channel.close());
  return { socket, server, unexpected, cancelled, written, client: createClient(SessionServiceDefinition, channel) };
}

describe('gRPC server on node:http2', () => {
  it('serves connections another listener accepted and held paused (a session\'s early listener)', async () => {
    const t = await serve();
    const path = join(dirname(t.socket), 'early.sock');
    const early = (await listenEarly(path, {}))!;
    cleanups.push(() => early.close());
    const channel = createChannel(`unix://${path}`);
    cleanups.push(() => channel.close());
    const client = createClient(SessionServiceDefinition, channel);
    // Made before the server takes the listener's connections: held, then served.
    const first = client.getScreen({ noWait: false });
    await new Promise((r) => setTimeout(r, 100));
    early.serve((socket) => t.server.accept(socket));
    expect((await first).text).toBe('hello');
    // A new connection, made after.
    const later = createChannel(`unix://${path}`);
    cleanups.push(() => later.close());
    expect((await createClient(SessionServiceDefinition, later).getScreen({ noWait: false })).text).toBe('hello');
  });

  it('answers unary calls from a grpc-js client, and maps errors to their status without leaking internals', async () => {
    const ok = await serve();
    expect(await ok.client.getScreen({ noWait: false })).toMatchObject({ text: 'hello', cols: 80, offset: 5 });
    const domain = await serve({ failInfo: 'domain' });
    await expect(domain.client.getInfo({})).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION, details: 'the agent has exited' });
    const bug = await serve({ failInfo: 'bug' });
    await expect(bug.client.getInfo({})).rejects.toMatchObject({ code: Status.INTERNAL, details: 'internal error' });
    expect(bug.unexpected).toEqual(['secret internals']);
  });

  it('waits for the peer to drain a long stream without gathering listeners on it', async () => {
    // Each 64 KiB message fills the stream's buffer, so every write waits for 'drain'.
    const s = await serve({ outputs: 200, outputBytes: 64 * 1024 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const inputs = (async function* () {
      yield { kind: { $case: 'hello' as const, value: { mode: 1, cols: 80, rows: 24, lastOffset: undefined, localTerminal: false } } };
      await new Promise(() => {}); // the client keeps its side open
    })();
    const abort = new AbortController();
    let received = 0;
    for await (const r of s.client.attach(inputs, { signal: abort.signal })) {
      if (r.kind?.$case === 'output' && ++received === 200) break;
    }
    abort.abort();
    expect(received).toBe(200);
    // A leaked listener per message would have passed Node's limit (10) and warned.
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  });

  it('writes a message handed over encoded as its parts, and says when it is done with them', async () => {
    // Small messages: the stream takes several before it asks to wait, so they are in flight
    // while the handler fills the next buffer (a buffer handed back early would show).
    for (const size of [1024, 64 * 1024]) {
      const n = size === 1024 ? 3000 : 200;
      const s = await serve({ outputs: n, outputBytes: size, encoded: true });
      const inputs = (async function* () {
        yield { kind: { $case: 'hello' as const, value: { mode: 1, cols: 80, rows: 24, lastOffset: undefined, localTerminal: false } } };
      })();
      let received = 0;
      const wrong: number[] = [];
      for await (const r of s.client.attach(inputs)) {
        if (r.kind?.$case !== 'output') continue;
        const { offset, data } = r.kind.value;
        const i = offset / size;
        if (i !== received || data.length !== size || data.some((b) => b !== i % 256)) wrong.push(i);
        received++;
      }
      expect(received).toBe(n);
      expect(wrong).toEqual([]);
      expect(s.written.count).toBe(n);
      // Buffers came back and were used again: a few were in flight at once, not one per message.
      expect(s.written.buffers).toBeLessThan(size === 1024 ? 64 : 10);
    }
  });

  it('streams both ways with a grpc-js client, every message in order', async () => {
    const s = await serve({ outputs: 3000 });
    const inputs = (async function* () {
      yield { kind: { $case: 'hello' as const, value: { mode: 1, cols: 80, rows: 24, lastOffset: undefined, localTerminal: false } } };
      yield { kind: { $case: 'input' as const, value: { data: Buffer.from('ping') } } };
    })();
    const seen: number[] = [];
    let echoed = '';
    for await (const r of s.client.attach(inputs)) {
      if (r.kind?.$case !== 'output') continue;
      if (r.kind.value.data.length === 1024) seen.push(r.kind.value.offset);
      else echoed = Buffer.from(r.kind.value.data).toString();
    }
    expect(seen).toEqual(Array.from({ length: 3000 }, (_, i) => i * 1024));
    expect(echoed).toBe('ping');
  });

  it('aborts the handler when the client goes away, and refuses unknown methods', async () => {
    const s = await serve();
    const call = openBidiCall<AttachRequest, AttachResponse>({
      socketPath: s.socket,
      path: '/hapi.session.v1.SessionService/Attach',
      encode: (m) => (SessionServiceDefinition.methods.attach.requestType.encode(m).finish()),
      decode: (b) => SessionServiceDefinition.methods.attach.responseType.decode(b),
    });
    call.send({ kind: { $case: 'hello', value: { mode: 1, cols: 80, rows: 24, lastOffset: undefined, localTerminal: false } } });
    call.send({ kind: { $case: 'input', value: { data: Buffer.from('x') } } });
    for await (const r of call.messages) if (r.kind?.$case === 'output') break;
    call.cancel();
    const deadline = Date.now() + 5_000;
    while (s.cancelled.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.cancelled).toEqual([true]);

    const unknown = openBidiCall<AttachRequest, AttachResponse>({ socketPath: s.socket, path: '/hapi.session.v1.SessionService/Nope', encode: () => new Uint8Array(), decode: () => ({}) });
    unknown.end();
    await expect((async () => {
      for await (const _ of unknown.messages) void _;
    })()).rejects.toMatchObject({ code: Status.UNIMPLEMENTED });
  });
});

describe('gRPC frame reader', () => {
  it('joins a message split over chunks and splits chunks holding several', () => {
    const got: string[] = [];
    const errors: string[] = [];
    const r = createFrameReader({ onMessage: (p) => void got.push(p.toString()), onError: (_c, m) => void errors.push(m), maxBytes: 100 });
    const two = Buffer.concat([grpcFrame(Buffer.from('hello')), grpcFrame(Buffer.from('world!'))]);
    for (const b of two) r.push(Buffer.from([b])); // byte by byte
    r.push(Buffer.concat([grpcFrame(Buffer.from('a')), grpcFrame(Buffer.from('bc'))]));
    expect(got).toEqual(['hello', 'world!', 'a', 'bc']);
    r.push(grpcFrame(Buffer.alloc(101)));
    expect(errors).toEqual(['message of 101 bytes exceeds the limit of 100']);
  });
});
