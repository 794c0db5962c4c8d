import { describe, expect, it } from 'vitest';
import { AttachResponse } from '../../gen/hapi/session/v1/session.js';
import { outputOf } from './attach-coalesce.js';
import { attachOutputParts } from './session-passthrough.js';

describe('attachOutputParts', () => {
  it('makes the bytes ts-proto makes for AttachResponse.output, with the data not copied', () => {
    for (const offset of [0, 1, 127, 128, 300_000, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      for (const size of [0, 1, 127, 128, 16_383, 16_384, 65_536]) {
        const data = Buffer.alloc(size, offset % 251);
        const parts = attachOutputParts(offset, data);
        expect(parts[1]).toBe(data);
        const joined = Buffer.concat(parts);
        const expected = AttachResponse.encode({ kind: { $case: 'output', value: { offset, data } } }).finish();
        // ts-proto leaves empty data out; the parts always carry the field (an empty one decodes the same).
        if (size > 0) expect(joined.equals(Buffer.from(expected))).toBe(true);
        const decoded = AttachResponse.decode(joined);
        expect(decoded.kind?.$case).toBe('output');
        if (decoded.kind?.$case !== 'output') continue;
        expect(decoded.kind.value.offset).toBe(offset);
        expect(Buffer.from(decoded.kind.value.data).equals(data)).toBe(true);
        // The runner's pass-through reads it as output, so it may join it with the next.
        expect(outputOf(joined)).toMatchObject({ offset });
      }
    }
  });
});
