import { describe, expect, it } from 'vitest';
import { HapiError } from '../shared/errors.js';
import { createReadiness } from './runner-control.js';

const settled = async (p: Promise<unknown>) => {
  let state = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('runner readiness', () => {
  it('holds calls while starting and lets them through once ready', async () => {
    const r = createReadiness();
    expect(r.phase()).toBe('starting');
    const waiting = r.whenReady();
    expect(await settled(waiting)).toBe('pending');
    r.set('ready');
    expect(await settled(waiting)).toBe('resolved');
    expect(await settled(r.whenReady())).toBe('resolved');
  });

  it('fails waiting and later calls with Unavailable once shutdown begins, and never goes back', async () => {
    const r = createReadiness();
    const waiting = r.whenReady();
    r.set('stopping');
    await expect(waiting).rejects.toMatchObject({ kind: 'Unavailable', message: 'runner is shutting down' });
    r.set('ready');
    expect(r.phase()).toBe('stopping');
    await expect(r.whenReady()).rejects.toBeInstanceOf(HapiError);
  });

  it('gives up with Unavailable when the caller aborts, without leaking the waiter', async () => {
    const r = createReadiness();
    const ac = new AbortController();
    const waiting = r.whenReady(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ kind: 'Unavailable', message: 'runner is still starting' });
    await expect(r.whenReady(AbortSignal.abort())).rejects.toMatchObject({ kind: 'Unavailable' });
    // The aborted waiters are gone: becoming ready later settles nothing twice.
    r.set('ready');
    expect(await settled(r.whenReady(ac.signal))).toBe('resolved');
  });
});
