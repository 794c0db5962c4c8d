import { describe, expect, it } from 'vitest';
import { createStreamTerminator } from './stream-terminator.js';

describe('stream terminator', () => {
  it('aborts a stream when its client goes, without touching the others', () => {
    const t = createStreamTerminator();
    const a = new AbortController();
    const b = new AbortController();
    const sa = t.signal(a.signal);
    const sb = t.signal(b.signal);
    a.abort();
    expect([sa.aborted, sb.aborted]).toEqual([true, false]);
  });

  it('aborts every open stream on terminate, and any opened afterwards', () => {
    const t = createStreamTerminator();
    const open = [t.signal(new AbortController().signal), t.signal(new AbortController().signal)];
    t.terminate();
    expect(open.map((s) => s.aborted)).toEqual([true, true]);
    expect(t.terminated).toBe(true);
    expect(t.signal(new AbortController().signal).aborted).toBe(true);
  });
});
