// The runner's pump of a session's answers up its attach stream to the hub (attach-opener.ts on
// attach-upstream.ts), against a real HTTP/2 peer: while the hub does not read, the runner holds
// a bounded amount and stops reading the session; once it reads, every byte arrives in order at
// its offset, contiguous output joined into fewer messages.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { once } from 'node:events';
import { AttachStreamRequest } from '../gen/hapi/hub/v1/machine.js';
import { AttachResponse } from '../gen/hapi/session/v1/session.js';
import { createFrameReader } from '../src/shared/grpc-wire.js';
import { MAX_MESSAGE_BYTES, PENDING_BYTES, pumpAnswers } from '../src/runner/hub-link/attach-opener.js';
import { createAttachUpstreams } from '../src/runner/hub-link/attach-upstream.js';

const CHUNK = 8 * 1024;
const CHUNKS = 2_000; // 16 MiB: far more than the runner may hold for a stream that does not read
const byte = (offset: number) => (offset * 7 + 3) % 256;

let server: Http2Server | undefined;
afterEach(async () => {
  server?.close();
  server = undefined;
});

/** A hub stand-in on node:http2 that takes one stream and does not read it until told to. */
async function silentHub() {
  const s = createServer();
  server = s;
  let stream: ServerHttp2Stream | undefined;
  const opened = new Promise<ServerHttp2Stream>((resolve) =>
    s.on('stream', (st) => {
      st.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream = st;
      resolve(st);
    }),
  );
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, opened, stream: () => stream };
}

describe('the runner pumping a session to the hub', () => {
  it('holds back a stream the hub does not read (bounded), then sends every byte in order, joined into fewer messages', async () => {
    const hub = await silentHub();
    const upstreams = createAttachUpstreams('token');
    const call = upstreams.open('link', hub.url);
    let pulled = 0;
    async function* answers() {
      for (let i = 0; i < CHUNKS; i++) {
        pulled++;
        const offset = 5 + i * CHUNK;
        yield AttachResponse.encode({ kind: { $case: 'output', value: { offset, data: Buffer.from(Array.from({ length: CHUNK }, (_, k) => byte(offset + k))) } } }).finish();
      }
    }
    const abort = new AbortController();
    const pumped = pumpAnswers(answers(), call, abort.signal);
    const stream = await hub.opened;

    // The hub reads nothing: once the HTTP/2 window is full, the runner holds at most
    // PENDING_BYTES (plus what the stream buffers) and stops reading the session.
    let last = -1;
    for (let still = 0; still < 5 && pulled < CHUNKS; ) {
      await new Promise((r) => setTimeout(r, 100));
      still = pulled === last ? still + 1 : 0;
      last = pulled;
    }
    expect(pulled * CHUNK).toBeLessThanOrEqual(PENDING_BYTES + MAX_MESSAGE_BYTES + 256 * 1024);

    // Now it reads: every byte, in order, at its offset, in fewer messages than the session sent.
    const frames: Buffer[] = [];
    const reader = createFrameReader({ onMessage: (p) => frames.push(Buffer.from(p)), onError: (_c, m) => expect.fail(m) });
    stream.on('data', (d: Buffer) => reader.push(d));
    await pumped;
    call.end();
    await once(stream, 'end');
    let next = 5;
    for (const f of frames) {
      const m = AttachStreamRequest.decode(f).message;
      if (m?.$case !== 'response' || m.value.kind?.$case !== 'output') throw new Error(`unexpected ${m?.$case}`);
      const { offset, data } = m.value.kind.value;
      expect(offset).toBe(next);
      expect(data.length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      for (let k = 0; k < data.length; k += 997) expect(data[k]).toBe(byte(offset + k));
      next = offset + data.length;
    }
    expect(next).toBe(5 + CHUNKS * CHUNK);
    expect(frames.length).toBeLessThan(CHUNKS / 4);
    upstreams.close();
  });
});
