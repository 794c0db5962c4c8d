import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortedError, DeadlineExceededError, HapiError, UnavailableError } from '../../shared/errors.js';
import { createPendingRequests } from './relay.js';
import { log, T0 } from './test-support.js';

describe('pending relayed requests', () => {
  beforeEach(async () => vi.useFakeTimers({ now: T0 }));
  afterEach(async () => vi.useRealTimers());

  const setup = () => {
    const sent: { requestId: string; deadline: Date }[] = [];
    const pending = createPendingRequests({ machineId: 'm1', log, now: () => new Date() });
    const request = (deadlineMs = 1_000, signal?: AbortSignal) =>
      pending.request({ method: 'status' }, deadlineMs, (requestId, deadline) => void sent.push({ requestId, deadline }), signal);
    return { pending, sent, request };
  };
  const report = { method: 'status' as const, report: { pid: 1, cliVersion: '1', sessionCount: 0 } };

  it('transmits with an id and a deadline, and resolves with the answer', async () => {
    const { pending, sent, request } = setup();
    const p = request(1_500);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.deadline).toEqual(new Date(T0.getTime() + 1_500));
    expect(pending.size).toBe(1);
    pending.answer(sent[0]!.requestId, report);
    await expect(p).resolves.toEqual(report);
    expect(pending.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // A second answer to the same id changes nothing.
    pending.answer(sent[0]!.requestId, report);
  });

  it('fails with DeadlineExceeded when no answer comes in time; a late answer is ignored', async () => {
    const { pending, sent, request } = setup();
    const p = request(1_000);
    const assertion = expect(p).rejects.toBeInstanceOf(DeadlineExceededError);
    vi.advanceTimersByTime(999);
    expect(pending.size).toBe(1);
    vi.advanceTimersByTime(1);
    await assertion;
    expect(pending.size).toBe(0);
    pending.answer(sent[0]!.requestId, report);
  });

  it('fails with Aborted when the caller gives up, and never sends an already aborted call', async () => {
    const { pending, sent, request } = setup();
    const ac = new AbortController();
    const p = request(1_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    expect(pending.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(() => request(1_000, ac.signal)).toThrow();
    expect(sent).toHaveLength(1);
  });

  it('rejects with the runner error, or Internal when the answer is for another method', async () => {
    const { pending, sent, request } = setup();
    const a = request();
    const b = request();
    pending.answer(sent[0]!.requestId, new HapiError('NotFound', 'no such session'));
    pending.answer(sent[1]!.requestId, { method: 'stop-runner' });
    await expect(a).rejects.toMatchObject({ kind: 'NotFound', message: 'no such session' });
    await expect(b).rejects.toMatchObject({ kind: 'Internal' });
  });

  it('rejectAll fails every waiting request with the given error and clears their deadlines', async () => {
    const { pending, request } = setup();
    const all = [request(), request(), request()];
    const err = new UnavailableError('gone');
    pending.rejectAll(err);
    for (const p of all) await expect(p).rejects.toBe(err);
    expect(pending.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
