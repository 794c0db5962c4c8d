import { describe, expect, it } from 'vitest';
import { findDetachKey } from './detach-key.js';

describe('detach key', () => {
  it('finds the raw byte and the kitty keyboard form, whichever comes first', () => {
    expect(findDetachKey(Buffer.from('abc'), 0x1c)).toBeUndefined();
    expect(findDetachKey(Buffer.from('ab\x1ccd'), 0x1c)).toEqual({ at: 2, length: 1 });
    expect(findDetachKey(Buffer.from('a\x1b[92;5u\x1c'), 0x1c)).toEqual({ at: 1, length: 7 });
    expect(findDetachKey(Buffer.from('\x1b[97;5u'), 0x01)).toEqual({ at: 0, length: 7 });
    expect(findDetachKey(Buffer.from('\x1b[93;5:1u'), 0x1d)).toEqual({ at: 0, length: 9 });
    expect(findDetachKey(Buffer.from('\x1b[92;3u'), 0x1c)).toBeUndefined();
  });
});
