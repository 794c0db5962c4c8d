import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../shared/errors.js';
import { createConnectGate, RETRY_HINT_MAX_MS, RETRY_HINT_MIN_MS } from './connect-gate.js';

/** A unit of work that finishes when told to. */
function job() {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return { work: () => done, finish };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('connect gate', () => {
  it('runs at most `concurrency` at once, the rest in arrival order as turns free up', async () => {
    const gate = createConnectGate({ concurrency: 2, queueMax: 10, maxWaitMs: 60_000 });
    const jobs = Array.from({ length: 5 }, job);
    const started: number[] = [];
    const runs = jobs.map((j, i) => gate.run(() => (started.push(i), j.work())));
    await settle();
    expect(started).toEqual([0, 1]);
    expect(gate.stats()).toMatchObject({ active: 2, waiting: 3, admitted: 2, refused: 0 });
    jobs[1]!.finish();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    jobs[0]!.finish();
    jobs[2]!.finish();
    await settle();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    jobs[3]!.finish();
    jobs[4]!.finish();
    await Promise.all(runs);
    expect(gate.stats()).toEqual({ active: 0, waiting: 0, admitted: 5, refused: 0 });
  });

  it('refuses at once when the queue is full, with a retry hint spread over the time the queue needs', async () => {
    let r = 0;
    const randoms = [0, 0.999];
    const gate = createConnectGate({ concurrency: 1, queueMax: 2, maxWaitMs: 60_000, random: () => randoms[r++ % 2]! });
    const jobs = Array.from({ length: 3 }, job);
    const runs = jobs.map((j) => gate.run(j.work));
    const refusals = await Promise.allSettled([gate.run(async () => 'never'), gate.run(async () => 'never')]);
    const errs = refusals.map((x) => (x.status === 'rejected' ? (x.reason as UnavailableError) : undefined));
    expect(errs.every((e) => e instanceof UnavailableError && /busy accepting runners/.test(e.message))).toBe(true);
    const hints = errs.map((e) => e!.details!.retryAfterMs as number);
    // At least a second, spread over [base, 2 * base): the two differ.
    expect(hints[0]).toBeGreaterThanOrEqual(RETRY_HINT_MIN_MS);
    expect(hints[1]).toBeGreaterThan(hints[0]!);
    expect(hints[1]).toBeLessThanOrEqual(RETRY_HINT_MAX_MS);
    expect(gate.stats()).toMatchObject({ active: 1, waiting: 2, refused: 2 });
    for (const j of jobs) j.finish();
    await Promise.all(runs);
  });

  it('a waiter whose caller went away leaves the queue and never runs; one that waited too long is refused', async () => {
    const gate = createConnectGate({ concurrency: 1, queueMax: 10, maxWaitMs: 50 });
    const first = job();
    const running = gate.run(first.work);
    const ac = new AbortController();
    let ran = false;
    const gone = gate.run(async () => void (ran = true), ac.signal);
    ac.abort(new Error('stream cancelled'));
    await expect(gone).rejects.toThrow('stream cancelled');
    expect(gate.stats().waiting).toBe(0);
    const late = gate.run(async () => void (ran = true));
    await expect(late).rejects.toMatchObject({ kind: 'Unavailable', details: { retryAfterMs: expect.any(Number) } });
    first.finish();
    await running;
    await settle();
    expect(ran).toBe(false);
    expect(gate.stats()).toEqual({ active: 0, waiting: 0, admitted: 1, refused: 1 });
    await expect(gate.run(async () => 'ok', AbortSignal.abort(new Error('already gone')))).rejects.toThrow('already gone');
  });

  it('a failed unit frees its turn and passes its error on', async () => {
    const gate = createConnectGate({ concurrency: 1, queueMax: 10, maxWaitMs: 60_000 });
    const failing = gate.run(async () => {
      throw new UnavailableError('database away');
    });
    const next = gate.run(async () => 'next');
    await expect(failing).rejects.toThrow('database away');
    await expect(next).resolves.toBe('next');
  });
});
