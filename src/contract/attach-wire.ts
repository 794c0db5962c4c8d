/**
 * The few bytes the terminal's hot paths write by hand in front of output they pass on without
 * copying it: the session's AttachResponse.output (session-passthrough.ts) and the runner's
 * frames to the hub around it (attach-passthrough.ts, attach-coalesce.ts). Varints up to 2^53,
 * which covers every length and byte offset. No generated code here: both halves load it.
 */

export function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Reads a varint at `pos` (up to 2^53); undefined when truncated or too long. */
export function readVarint(b: Uint8Array, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < b.length && i < pos + 8; i++) {
    const byte = b[i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, next: i + 1 };
    scale *= 128;
  }
  return undefined;
}

/** Writes `n` (up to 2^53) as a varint at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/**
 * hapi.session.v1.AttachResponse { output { offset, data } } up to its data, for `dataLength`
 * bytes of data that follow it: the bytes ts-proto writes for that message (offset left out when
 * 0, as proto3 does), which the runner's pass-through reads as output (attach-coalesce.ts outputOf).
 */
export function attachOutputHead(offset: number, dataLength: number): Buffer {
  const output = (offset > 0 ? 1 + varintLength(offset) : 0) + 1 + varintLength(dataLength) + dataLength;
  const head = Buffer.allocUnsafe(1 + varintLength(output) + output - dataLength);
  head[0] = 0x12; // AttachResponse.output
  let pos = writeVarint(head, 1, output);
  if (offset > 0) {
    head[pos++] = 0x08; // AttachOutput.offset
    pos = writeVarint(head, pos, offset);
  }
  head[pos++] = 0x12; // AttachOutput.data
  writeVarint(head, pos, dataLength);
  return head;
}
