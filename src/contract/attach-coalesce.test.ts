import { describe, expect, it } from 'vitest';
import { AttachStreamRequest } from '../../gen/hapi/hub/v1/machine.js';
import { AttachResponse } from '../../gen/hapi/session/v1/session.js';
import { attachStreamRequestBytes, responseFrame } from './attach-passthrough.js';
import { createOutputCoalescer, outputFrame, outputOf } from './attach-coalesce.js';
import { encodedViewerEvent } from './session-passthrough.js';

/** The AttachStreamRequest in a gRPC frame, checking the frame's header. */
function unframe(parts: Uint8Array[]): AttachStreamRequest {
  const frame = Buffer.concat(parts);
  expect(frame[0]).toBe(0);
  expect(frame.readUInt32BE(1)).toBe(frame.length - 5);
  return AttachStreamRequest.decode(frame.subarray(5));
}

const output = (offset: number, data: Buffer) => AttachResponse.encode({ kind: { $case: 'output', value: { offset, data } } }).finish();

describe('attach pass-through and coalescing', () => {
  it("wraps a session's encoded answer as the AttachStreamRequest the generated encoder would write", () => {
    for (const size of [0, 1, 127, 128, 65_536, 300_000]) {
      const data = Buffer.alloc(size, 0x61);
      const response: AttachResponse = { kind: { $case: 'output', value: { offset: 1_234_567_890_123, data } } };
      const encoded = AttachResponse.encode(response).finish();
      const frame = responseFrame(encoded);
      // The answer is not copied: it follows the frame's head as it is.
      expect(frame[1]).toBe(encoded);
      expect(Buffer.concat(frame).subarray(5)).toEqual(Buffer.from(AttachStreamRequest.encode({ message: { $case: 'response', value: response } }).finish()));
      expect(unframe(frame).message?.$case).toBe('response');
    }
  });

  it('encodes a joined output as the generated encoder would, and reads output back without decoding', () => {
    for (const offset of [0, 1, 127, 128, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER - 10]) {
      const parts = [Buffer.from('abc'), Buffer.alloc(200, 0x62), Buffer.alloc(0)];
      const data = Buffer.concat(parts);
      const response: AttachResponse = { kind: { $case: 'output', value: { offset, data } } };
      const frame = outputFrame(offset, parts, data.length);
      // The data is not copied: the parts themselves follow the frame's head (the empty one left out).
      expect(frame.slice(1)).toEqual([parts[0], parts[1]]);
      expect(frame[1]).toBe(parts[0]);
      expect(Buffer.concat(frame).subarray(5)).toEqual(Buffer.from(AttachStreamRequest.encode({ message: { $case: 'response', value: response } }).finish()));
      const back = outputOf(AttachResponse.encode(response).finish());
      expect(back?.offset).toBe(offset);
      expect(Buffer.from(back!.data)).toEqual(data);
    }
    expect(outputOf(encodedViewerEvent({ kind: 'exited', status: { exitCode: 3 } }))).toBeUndefined();
    expect(outputOf(encodedViewerEvent({ kind: 'snapshot', snapshot: { ansi: 'x', cursor: { x: 0, y: 0 }, cols: 1, rows: 1, offset: 5 } }))).toBeUndefined();
    // Not what a session encodes (an unknown field): passed on unmerged rather than misread.
    expect(outputOf(Buffer.from([0x12, 0x02, 0x18, 0x01]))).toBeUndefined();
  });

  it('joins contiguous output only: every byte at its offset, in order, snapshots and exits in their places', () => {
    const answers: Uint8Array[] = [];
    let offset = 1000;
    let seed = 7;
    const rnd = (n: number) => {
      // xorshift32: reproducible, and its low bits are as random as its high ones.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const byte = (o: number) => (o * 31 + 7) % 251;
    for (let i = 0; i < 400; i++) {
      const r = rnd(20);
      if (r === 0) {
        // A snapshot, then output from its offset (a jump forward).
        offset += 5000;
        answers.push(encodedViewerEvent({ kind: 'snapshot', snapshot: { ansi: `s${i}`, cursor: { x: 0, y: 0 }, cols: 80, rows: 24, offset } }));
      } else if (r === 1) {
        answers.push(output(offset, Buffer.alloc(0)));
      } else if (r === 2) {
        // Not what a session sends (a gap without a snapshot), but never joined across either.
        offset += 10;
      } else {
        const n = 1 + rnd(8_000);
        answers.push(output(offset, Buffer.from(Array.from({ length: n }, (_, k) => byte(offset + k)))));
        offset += n;
      }
    }
    answers.push(encodedViewerEvent({ kind: 'exited', status: { exitCode: 0 } }));
    const max = 30_000;
    const c = createOutputCoalescer(max);
    const frames: Uint8Array[][] = [];
    // Taken as a busy stream would: sometimes after one answer, sometimes after many.
    for (const a of answers) {
      c.push(a);
      if (rnd(6) === 0) for (let f = c.take(); f; f = c.take()) frames.push(f);
    }
    for (let f = c.take(); f; f = c.take()) frames.push(f);
    expect(c.bytes).toBe(0);
    expect(c.length).toBe(0);
    expect(frames.length).toBeLessThan(answers.length / 2);

    // What the hub sees, against what the session sent.
    const seen = frames.map((f) => unframe(f).message).map((m) => (m?.$case === 'response' ? m.value.kind : undefined));
    const sent = answers.map((a) => AttachResponse.decode(a).kind);
    /** Runs of contiguous output (start offset, length, every byte right), and the other answers, in order. */
    const flat = (kinds: typeof sent) => {
      const out: string[] = [];
      let run: { start: number; bytes: number; right: boolean } | undefined;
      const close = () => {
        if (run) out.push(`output@${run.start}+${run.bytes}:${run.right}`);
        run = undefined;
      };
      for (const k of kinds) {
        if (k?.$case !== 'output') {
          close();
          out.push(k?.$case === 'snapshot' ? `snapshot@${k.value.offset}` : String(k?.$case));
          continue;
        }
        const { offset: at, data } = k.value;
        if (data.length === 0) continue;
        expect(data.length).toBeLessThanOrEqual(max);
        if (run && run.start + run.bytes !== at) close();
        run ??= { start: at, bytes: 0, right: true };
        run.right &&= data.every((b, i) => b === byte(at + i));
        run.bytes += data.length;
      }
      close();
      return out;
    };
    const expected = flat(sent);
    expect(flat(seen)).toEqual(expected);
    expect(expected.filter((x) => x.startsWith('output@')).every((x) => x.endsWith(':true'))).toBe(true);
    expect(expected.filter((x) => x.startsWith('snapshot@')).length).toBeGreaterThan(5);
    expect(expected.at(-1)).toBe('exited');
  });

  it('encodes other requests as the contract does', () => {
    const open = attachStreamRequestBytes({ message: { $case: 'open', value: { machineId: 'm', linkId: 'l', attachId: 'a' } } });
    expect(AttachStreamRequest.decode(open).message).toEqual({ $case: 'open', value: { machineId: 'm', linkId: 'l', attachId: 'a' } });
  });
});
