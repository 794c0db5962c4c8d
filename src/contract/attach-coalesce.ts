/**
 * The runner's coalescing of a session's output on its way to the hub. While the attach stream
 * to the hub cannot take more (its HTTP/2 window is full, or the runner has not been scheduled
 * yet), the session's answers wait here, and contiguous output chunks are joined into one
 * AttachOutput: the hub and the runner then handle one message where there were many, which is
 * most of what a message costs them. Nothing else changes: every byte, in order, at its offset;
 * a snapshot or an exit is never merged and is never passed by what came after it; output that
 * does not continue the chunk before it (a snapshot came between) starts a message of its own.
 *
 * Each item is written as a whole gRPC frame of an AttachStreamRequest { response: <the
 * session's AttachResponse> }: an answer that is not merged goes as the session encoded it
 * (attach-passthrough.ts), a merged one is encoded here. Only AttachResponse.output {offset,
 * data} is read, without decoding anything else; an answer whose encoding this reader does not
 * expect is passed on as it came, unmerged.
 */
import { responseFrame, responseFrameHead } from './attach-passthrough.js';
import { attachOutputHead, readVarint } from './attach-wire.js';

/**
 * The output of an encoded AttachResponse (`data` a view, not a copy), or undefined when it is
 * something else (snapshot, exited) or not encoded as expected.
 */
export function outputOf(response: Uint8Array): { offset: number; data: Uint8Array } | undefined {
  // AttachResponse.output: field 2, length-delimited, and nothing else.
  if (response[0] !== 0x12) return undefined;
  const len = readVarint(response, 1);
  if (!len || len.next + len.value !== response.length) return undefined;
  let offset = 0;
  let data: Uint8Array = new Uint8Array(0);
  let pos = len.next;
  while (pos < response.length) {
    const tag = response[pos];
    if (tag === 0x08) {
      const v = readVarint(response, pos + 1);
      if (!v || !Number.isSafeInteger(v.value)) return undefined;
      offset = v.value;
      pos = v.next;
    } else if (tag === 0x12) {
      const v = readVarint(response, pos + 1);
      if (!v || v.next + v.value > response.length) return undefined;
      data = response.subarray(v.next, v.next + v.value);
      pos = v.next + v.value;
    } else {
      return undefined;
    }
  }
  return { offset, data };
}

/**
 * gRPC frame of AttachStreamRequest { response: { output: { offset, data: <the parts, joined> } } },
 * as its parts: the frame's few bytes up to the data, then the parts themselves, not copied.
 */
export function outputFrame(offset: number, parts: Uint8Array[], bytes: number): Uint8Array[] {
  const output = attachOutputHead(offset, bytes);
  return [Buffer.concat([responseFrameHead(output.length + bytes), output]), ...parts.filter((p) => p.length > 0)];
}

type Item = { kind: 'raw'; response: Uint8Array } | { kind: 'output'; offset: number; parts: Uint8Array[]; bytes: number };

export interface OutputCoalescer {
  /** One of the session's answers (its encoded AttachResponse), after those pushed before it. */
  push(response: Uint8Array): void;
  /** The next frame to send (its parts, to be written in order), or undefined when nothing waits. */
  take(): Uint8Array[] | undefined;
  /** Bytes waiting, and messages. */
  readonly bytes: number;
  readonly length: number;
  /** Answers pushed, and frames taken (for tests and figures). */
  readonly pushed: number;
  readonly taken: number;
}

/** Joins contiguous output while it waits, up to `maxMessageBytes` of data per message. */
export function createOutputCoalescer(maxMessageBytes: number): OutputCoalescer {
  const items: Item[] = [];
  let head = 0;
  let bytes = 0;
  let pushed = 0;
  let taken = 0;
  return {
    push(response) {
      pushed++;
      const out = outputOf(response);
      // Output without bytes says nothing: not sent.
      if (out && out.data.length === 0) return;
      const last = items.length > head ? items[items.length - 1]! : undefined;
      if (out && last?.kind === 'output' && last.offset + last.bytes === out.offset && last.bytes + out.data.length <= maxMessageBytes) {
        last.parts.push(out.data);
        last.bytes += out.data.length;
        bytes += out.data.length;
        return;
      }
      if (out) {
        items.push({ kind: 'output', offset: out.offset, parts: [out.data], bytes: out.data.length });
        bytes += out.data.length;
        return;
      }
      items.push({ kind: 'raw', response });
      bytes += response.length;
    },
    take() {
      if (head >= items.length) return undefined;
      const item = items[head]!;
      items[head++] = undefined as never;
      if (head === items.length) {
        items.length = 0;
        head = 0;
      }
      taken++;
      if (item.kind === 'raw') {
        bytes -= item.response.length;
        return responseFrame(item.response);
      }
      bytes -= item.bytes;
      return outputFrame(item.offset, item.parts, item.bytes);
    },
    get bytes() {
      return bytes;
    },
    get length() {
      return items.length - head;
    },
    get pushed() {
      return pushed;
    },
    get taken() {
      return taken;
    },
  };
}
