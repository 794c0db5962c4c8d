import { describe, expect, it } from 'vitest';
import { createOutputRing } from './output-ring.js';

const bytes = (s: string) => Buffer.from(s);

describe('output ring', () => {
  it('starts empty at offset 0', () => {
    const r = createOutputRing(8);
    expect([r.start, r.end]).toEqual([0, 0]);
    expect(r.readFrom(0)).toEqual(Buffer.alloc(0));
    expect(r.readFrom(1)).toBeUndefined();
  });

  it('returns exactly the bytes after an offset while they are held', () => {
    const r = createOutputRing(8);
    r.append(bytes('abc'));
    r.append(bytes('de'));
    expect(r.end).toBe(5);
    expect(r.readFrom(0)!.toString()).toBe('abcde');
    expect(r.readFrom(3)!.toString()).toBe('de');
    expect(r.readFrom(5)!.toString()).toBe('');
    expect(r.readFrom(6)).toBeUndefined();
  });

  it('wraps around and forgets the oldest bytes', () => {
    const r = createOutputRing(8);
    r.append(bytes('0123456'));
    r.append(bytes('789ab'));
    expect([r.start, r.end]).toEqual([4, 12]);
    expect(r.readFrom(3)).toBeUndefined();
    expect(r.readFrom(4)!.toString()).toBe('456789ab');
    expect(r.readFrom(7)!.toString()).toBe('789ab');
    expect(r.readFrom(11)!.toString()).toBe('b');
  });

  it('keeps only the tail of a write larger than the ring, at the right offsets', () => {
    const r = createOutputRing(4);
    r.append(bytes('xy'));
    r.append(bytes('abcdefghij'));
    expect([r.start, r.end]).toEqual([8, 12]);
    expect(r.readFrom(8)!.toString()).toBe('ghij');
    expect(r.readFrom(10)!.toString()).toBe('ij');
  });

  it('limits a read to maxBytes', () => {
    const r = createOutputRing(8);
    r.append(bytes('0123456789'));
    expect(r.readFrom(2, 3)!.toString()).toBe('234');
    expect(r.readFrom(6, 3)!.toString()).toBe('678');
    expect(r.readFrom(8, 100)!.toString()).toBe('89');
  });

  it('matches a plain concatenation for any sequence of writes (offset arithmetic)', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (const capacity of [1, 3, 16, 64]) {
      const r = createOutputRing(capacity);
      let all = Buffer.alloc(0);
      for (let i = 0; i < 200; i++) {
        const chunk = Buffer.from(Array.from({ length: rand(capacity * 2 + 1) }, () => rand(256)));
        r.append(chunk);
        all = Buffer.concat([all, chunk]);
        expect(r.end).toBe(all.length);
        expect(r.start).toBe(Math.max(0, all.length - capacity));
        const offset = r.start + rand(r.end - r.start + 1);
        expect(r.readFrom(offset)).toEqual(all.subarray(offset));
        if (r.start > 0) expect(r.readFrom(r.start - 1)).toBeUndefined();
      }
    }
  });

  it('refuses offsets that are not integers and bad capacities', () => {
    const r = createOutputRing(4);
    r.append(bytes('ab'));
    expect(r.readFrom(0.5)).toBeUndefined();
    expect(r.readFrom(-1)).toBeUndefined();
    expect(() => createOutputRing(0)).toThrow(RangeError);
  });

  it('copies into a given buffer (at most its length) across the wrap', () => {
    const r = createOutputRing(8);
    r.append(bytes('0123456789')); // holds 2..9, wrapped
    const into = Buffer.alloc(5, '-');
    const view = r.readFrom(3, 100, into)!;
    expect(view.toString()).toBe('34567');
    expect(view.buffer).toBe(into.buffer);
    expect(r.readFrom(8, 100, into)!.toString()).toBe('89');
  });

  it('hands out views of itself across the wrap, without a copy', () => {
    const r = createOutputRing(8);
    r.append(bytes('0123456789')); // holds 2..9, wrapped after 7
    expect(Buffer.concat(r.viewsFrom(3)!).toString()).toBe('3456789');
    expect(r.viewsFrom(3)!).toHaveLength(2);
    expect(r.viewsFrom(9)!.map(String)).toEqual(['9']);
    expect(r.viewsFrom(1)).toBeUndefined();
  });
});
