/**
 * A ring of the agent's raw output in which every byte has an absolute offset (0 = the first
 * byte the agent ever wrote). It holds the last `capacity` bytes; older ones are overwritten,
 * never waited for, so the agent is never paused. A viewer that holds output up to an offset
 * resumes from the ring while that offset is still in it (no gap, no duplicate).
 */
export interface OutputRing {
  /** Offset of the oldest byte still held. */
  readonly start: number;
  /** Offset just past the newest byte (the total number of bytes ever appended). */
  readonly end: number;
  readonly capacity: number;
  append(data: Uint8Array): void;
  /**
   * The bytes from `offset` to the end, at most `maxBytes` of them (a copy). Undefined when
   * `offset` is no longer held (before `start`) or lies in the future (after `end`). With `into`,
   * copied there (at most its length) and a view of it returned, instead of a new buffer.
   */
  readFrom(offset: number, maxBytes?: number, into?: Buffer): Buffer | undefined;
  /**
   * The bytes from `offset` to the end as views of the ring itself (one or two, across the
   * wrap), without a copy: valid only until the next append. Undefined as readFrom.
   */
  viewsFrom(offset: number): Buffer[] | undefined;
}

export function createOutputRing(capacity: number): OutputRing {
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
  const buf = Buffer.alloc(capacity);
  let end = 0;

  return {
    get start() {
      return Math.max(0, end - capacity);
    },
    get end() {
      return end;
    },
    capacity,
    append(data) {
      // Only the last `capacity` bytes of a large write can survive it.
      const src = data.length > capacity ? data.subarray(data.length - capacity) : data;
      const skipped = data.length - src.length;
      const at = (end + skipped) % capacity;
      const first = Math.min(src.length, capacity - at);
      buf.set(src.subarray(0, first), at);
      if (first < src.length) buf.set(src.subarray(first), 0);
      end += data.length;
    },
    readFrom(offset, maxBytes = Number.MAX_SAFE_INTEGER, into) {
      const start = Math.max(0, end - capacity);
      if (!Number.isSafeInteger(offset) || offset < start || offset > end) return undefined;
      const length = Math.min(end - offset, Math.max(0, maxBytes), into ? into.length : Infinity);
      const out = into ? into.subarray(0, length) : Buffer.allocUnsafe(length); // every byte is copied over below
      const at = offset % capacity;
      const first = Math.min(length, capacity - at);
      buf.copy(out, 0, at, at + first);
      if (first < length) buf.copy(out, first, 0, length - first);
      return out;
    },
    viewsFrom(offset) {
      const start = Math.max(0, end - capacity);
      if (!Number.isSafeInteger(offset) || offset < start || offset > end) return undefined;
      const length = end - offset;
      const at = offset % capacity;
      const first = Math.min(length, capacity - at);
      return first < length ? [buf.subarray(at, at + first), buf.subarray(0, length - first)] : [buf.subarray(at, at + first)];
    },
  };
}
