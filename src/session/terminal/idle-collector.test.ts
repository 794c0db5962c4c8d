import { describe, expect, it } from 'vitest';
import { createIdleCollector } from './idle-collector.js';

const waitFor = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('idle collector', () => {
  it('collects once the output was quiet after enough of it, and only once the model has parsed it all', async () => {
    let collections = 0;
    let settle: () => void = () => {};
    let asked = 0;
    const c = createIdleCollector({
      gc: () => void collections++,
      settled: () => {
        asked++;
        return new Promise<void>((r) => (settle = r));
      },
      minBytes: 100,
      quietMs: 5,
    });
    c.output(60);
    c.output(60);
    await waitFor(() => asked > 0, 'the collector to ask whether the model parsed it all');
    expect(collections).toBe(0);
    settle();
    await waitFor(() => collections === 1, 'the collection');
    // The count starts over: the next burst must be as large again.
    c.output(120);
    await waitFor(() => asked > 1, 'the second burst');
    settle();
    await waitFor(() => collections === 2, 'the second collection');
    c.close();
  });

  it('does nothing without a gc function', () => {
    const c = createIdleCollector({ gc: undefined, settled: () => Promise.resolve(), minBytes: 1, quietMs: 1 });
    c.output(1_000);
    c.close();
  });
});
