/**
 * Protobuf varints, for the few messages the terminal's hot paths frame by hand (the session's
 * output: session-passthrough.ts; the runner's pass-through to the hub: attach-passthrough.ts,
 * attach-coalesce.ts). Up to 2^53, which covers every length and byte offset.
 */

export function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
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
