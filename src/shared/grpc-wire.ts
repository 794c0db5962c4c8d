/**
 * The gRPC wire format as the node:http2 clients (grpc-unary-client.ts, grpc-bidi-client.ts)
 * speak it: length-prefixed messages, and the call's status from the response headers or the
 * trailers. Uncompressed only.
 */
import type { ClientHttp2Stream } from 'node:http2';
import type { Duplex, Writable } from 'node:stream';
import { Status } from 'nice-grpc-common';

/** One uncompressed gRPC message: flag byte 0, 4-byte big-endian length, the payload. */
export function grpcFrame(payload: Uint8Array): Buffer {
  return Buffer.concat([grpcPrefix(payload.length), payload]);
}

/** The 5 bytes before a message of `length` bytes: flag 0 (uncompressed), the length big-endian. */
function grpcPrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(5);
  prefix[0] = 0;
  prefix.writeUInt32BE(length, 1);
  return prefix;
}

/**
 * A message a handler hands over already encoded, as parts written one after the other: a few
 * bytes of fields, then a large payload it did not copy (a viewer's output: session-service.ts).
 * `written` is called once the stream is done with the parts (the payload may be reused then),
 * with an error when it was destroyed first.
 */
export class EncodedMessage {
  constructor(
    readonly parts: readonly Uint8Array[],
    readonly written?: (err?: Error | null) => void,
  ) {}
}

/**
 * Writes one uncompressed gRPC message to a stream as its prefix and the payload itself (one
 * buffer, or the parts of one), corked into one write: the payload is not copied (a viewer's
 * output, 64 KiB a message, was copied into a new frame every time). Answers what `write`
 * answers (false: wait for 'drain'); `written` as for EncodedMessage.
 */
export function writeGrpcMessage(stream: Writable, payload: Uint8Array | readonly Uint8Array[], written?: (err?: Error | null) => void): boolean {
  const parts = payload instanceof Uint8Array ? [payload] : payload;
  let length = 0;
  for (const p of parts) length += p.length;
  return writeParts(stream, [grpcPrefix(length), ...parts], written);
}

/**
 * Writes `parts` one after the other, corked into one write and not copied (they must not change
 * until written). Empty parts are not written (a stream may not call back for them): `written`
 * goes with the last write. Answers what the last `write` answers (false: wait for 'drain').
 */
export function writeParts(stream: Writable, parts: readonly Uint8Array[], written?: (err?: Error | null) => void): boolean {
  let last = -1;
  for (let i = 0; i < parts.length; i++) if (parts[i]!.length > 0) last = i;
  let ok = true;
  stream.cork();
  for (let i = 0; i <= last; i++) if (parts[i]!.length > 0) ok = stream.write(parts[i]!, i === last ? written : undefined);
  stream.uncork();
  // Nothing to write: done at once.
  if (last < 0 && written) process.nextTick(written);
  return ok;
}

/** grpc-message is percent-encoded; a malformed one is shown as it came. */
function decodeGrpcMessage(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export interface GrpcStatus {
  /** Undefined until the server sent one (headers-only response or trailers). */
  code: number | undefined;
  message: string;
}

/**
 * Follows a call's status on `stream`: grpc-status from the response headers (a trailers-only
 * answer) or the trailers; a non-200 HTTP answer counts as UNAVAILABLE.
 */
export function trackGrpcStatus(stream: ClientHttp2Stream): GrpcStatus {
  const status: GrpcStatus = { code: undefined, message: '' };
  const read = (headers: Record<string, unknown>) => {
    if (headers['grpc-status'] === undefined) return;
    status.code = Number(headers['grpc-status']);
    status.message = decodeGrpcMessage(headers['grpc-message']);
  };
  stream.on('response', (headers) => {
    if (Number(headers[':status']) !== 200) {
      status.code = Status.UNAVAILABLE;
      status.message = `HTTP status ${headers[':status']}`;
    }
    read(headers);
  });
  stream.on('trailers', read);
  return status;
}

export interface FrameReaderOptions {
  /** A whole message's payload (a view: copy it to keep it past the call). */
  onMessage(payload: Buffer): void;
  /** A frame that cannot be read (compressed, or larger than maxBytes); nothing more is read. */
  onError(code: Status, message: string): void;
  maxBytes?: number;
}

/**
 * Splits a stream's data into gRPC messages, however the chunks fall: a message split over many
 * chunks is joined once, when whole; several in one chunk come out one by one.
 */
export function createFrameReader(o: FrameReaderOptions): { push(chunk: Buffer): void } {
  const maxBytes = o.maxBytes ?? Number.MAX_SAFE_INTEGER;
  let chunks: Buffer[] = [];
  let buffered = 0;
  let failed = false;
  const take = (n: number): Buffer => {
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
    chunks = all.length > n ? [all.subarray(n)] : [];
    buffered -= n;
    return all.subarray(0, n);
  };
  return {
    push(chunk) {
      if (failed) return;
      chunks.push(chunk);
      buffered += chunk.length;
      while (buffered >= 5) {
        const head = chunks[0]!.length >= 5 ? chunks[0]! : (chunks = [Buffer.concat(chunks, buffered)])[0]!;
        const length = head.readUInt32BE(1);
        if (head[0] !== 0) {
          failed = true;
          return o.onError(Status.INTERNAL, 'compressed message without negotiated compression');
        }
        if (length > maxBytes) {
          failed = true;
          return o.onError(Status.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds the limit of ${maxBytes}`);
        }
        if (buffered < 5 + length) return;
        o.onMessage(take(5 + length).subarray(5));
      }
    },
  };
}

/**
 * Resolves on 'drain' or 'close', whichever comes first, and removes both listeners. (A race of
 * two events.once() left the loser's listener behind: a viewer's stream waits for 'drain' after
 * nearly every output message, so a long attach gathered one 'close' listener per message.)
 */
export function drainOrClose(stream: Pick<Duplex, 'on' | 'off'>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
