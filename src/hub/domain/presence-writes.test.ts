import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UnavailableError } from '../../shared/errors.js';
import type { HubStore } from './ports.js';
import { createPresence, sweepIntervalFor } from './presence.js';
import { caller, hello, log, memoryStore, recorder, recordingSink, T0 } from './test-support.js';

const TIMEOUT = 1_000;

describe('presence writes while the store is busy', () => {
  let store: HubStore;
  let busy = false;
  let attempts = 0;
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    store = memoryStore();
    const transaction = store.transaction.bind(store);
    store.transaction = (work) => {
      if (busy) {
        attempts++;
        throw new UnavailableError('the hub database is busy');
      }
      return transaction(work);
    };
  });
  afterEach(() => {
    store.close();
    vi.useRealTimers();
  });

  it('never throws; shows the machine offline from memory; retries with backoff and saves once the store is back', () => {
    const rec = recorder();
    const presence = createPresence({ store, publish: rec.publish, log, now: () => new Date(), aliveTimeoutMs: TIMEOUT });
    const a = presence.connect(caller(), hello('a'), recordingSink());
    const b = presence.connect(caller(), hello('b'), recordingSink());
    presence.alive(b.conn);
    busy = true;
    expect(() => presence.detach(a.conn, 'stream closed')).not.toThrow();
    expect(presence.withLastAlive(store.getMachine('a')!).online).toBe(false);
    expect(rec.events.at(-1)).toMatchObject({ event: { type: 'machine', machine: { id: 'a', online: false } } });
    // b stops sending alive: the sweeper times it out, still without throwing.
    vi.advanceTimersByTime(TIMEOUT + sweepIntervalFor(TIMEOUT));
    expect(presence.get('b')).toBeUndefined();
    expect(store.getMachine('b')!.online).toBe(true);
    // Backoff: far fewer attempts than sweeps over 20 s.
    const sweeps = 20_000 / sweepIntervalFor(TIMEOUT);
    attempts = 0;
    vi.advanceTimersByTime(20_000);
    expect(attempts).toBeGreaterThan(0);
    expect(attempts).toBeLessThan(sweeps / 10);
    busy = false;
    vi.advanceTimersByTime(30_000);
    expect(store.getMachine('a')).toMatchObject({ online: false, onlineSince: new Date(T0.getTime()) });
    expect(store.getMachine('b')!.online).toBe(false);
    presence.close();
  });

  it('a machine that reconnects before its offline mark is saved stays online', () => {
    const presence = createPresence({ store, publish: () => undefined, log, now: () => new Date(), aliveTimeoutMs: TIMEOUT });
    const a = presence.connect(caller(), hello('a'), recordingSink());
    busy = true;
    presence.detach(a.conn, 'stream closed');
    busy = false;
    presence.connect(caller(), hello('a'), recordingSink());
    vi.advanceTimersByTime(TIMEOUT / 2);
    expect(store.getMachine('a')!.online).toBe(true);
    expect(presence.withLastAlive(store.getMachine('a')!).online).toBe(true);
    presence.close();
  });
});
