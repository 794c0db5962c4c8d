import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UnavailableError } from '../../shared/errors.js';
import type { HubStore } from './ports.js';
import { createPresence, sweepIntervalFor } from './presence.js';
import { OFFLINE_BATCH } from './presence-writes.js';
import { caller, hello, log, memoryStore, recorder, recordingSink, settle, T0 } from './test-support.js';

const TIMEOUT = 1_000;

describe('presence writes while the store is busy', () => {
  let store: HubStore;
  let busy = false;
  let attempts = 0;
  beforeEach(async () => {
    vi.useFakeTimers({ now: T0 });
    store = memoryStore();
    const transaction = store.transaction.bind(store);
    store.transaction = async (work) => {
      if (busy) {
        attempts++;
        throw new UnavailableError('the hub database is busy');
      }
      return transaction(work);
    };
  });
  afterEach(async () => {
    store.close();
    vi.useRealTimers();
  });

  it('never throws; shows the machine offline from memory; retries with backoff and saves once the store is back', async () => {
    const rec = recorder();
    const presence = await createPresence({ store, publish: rec.publish, log, now: () => new Date(), aliveTimeoutMs: TIMEOUT });
    const a = await presence.connect(caller(), hello('a'), recordingSink());
    const b = await presence.connect(caller(), hello('b'), recordingSink());
    presence.alive(b.conn);
    busy = true;
    expect(() => presence.detach(a.conn, 'stream closed')).not.toThrow();
    await settle();
    expect(presence.withLastAlive((await store.getMachine('a'))!).online).toBe(false);
    expect(rec.events.at(-1)).toMatchObject({ event: { type: 'machine', machine: { id: 'a', online: false } } });
    // b stops sending alive: the sweeper times it out, still without throwing.
    await vi.advanceTimersByTimeAsync(TIMEOUT + sweepIntervalFor(TIMEOUT));
    expect(presence.get('b')).toBeUndefined();
    expect((await store.getMachine('b'))!.online).toBe(true);
    // Backoff: far fewer attempts than sweeps over 20 s.
    const sweeps = 20_000 / sweepIntervalFor(TIMEOUT);
    attempts = 0;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(attempts).toBeGreaterThan(0);
    expect(attempts).toBeLessThan(sweeps / 10);
    busy = false;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(await store.getMachine('a')).toMatchObject({ online: false, onlineSince: new Date(T0.getTime()) });
    expect((await store.getMachine('b'))!.online).toBe(false);
    presence.close();
  });

  it('a machine that reconnects before its offline mark is saved stays online', async () => {
    const presence = await createPresence({ store, publish: () => undefined, log, now: () => new Date(), aliveTimeoutMs: TIMEOUT });
    const a = await presence.connect(caller(), hello('a'), recordingSink());
    busy = true;
    presence.detach(a.conn, 'stream closed');
    await settle();
    busy = false;
    await presence.connect(caller(), hello('a'), recordingSink());
    await vi.advanceTimersByTimeAsync(TIMEOUT / 2);
    expect((await store.getMachine('a'))!.online).toBe(true);
    expect(presence.withLastAlive((await store.getMachine('a'))!).online).toBe(true);
    presence.close();
  });

  it('saves thousands of offline marks in short transactions of OFFLINE_BATCH, every one of them, and publishes them all', async () => {
    const rec = recorder();
    const presence = await createPresence({ store, publish: rec.publish, log, now: () => new Date(), aliveTimeoutMs: TIMEOUT });
    const n = 2 * OFFLINE_BATCH + 50;
    const conns = [];
    for (let i = 0; i < n; i++) conns.push((await presence.connect(caller(), hello(`m${i}`), recordingSink())).conn);
    const transaction = store.transaction.bind(store);
    let transactions = 0;
    store.transaction = (work) => (transactions++, transaction(work));
    // A replica giving up every stream at once (its heartbeat lapsed): one flush per detach, run one after another.
    for (const c of conns) presence.detach(c, 'gave up');
    await vi.advanceTimersByTimeAsync(sweepIntervalFor(TIMEOUT));
    const offline = (await store.listMachines('default')).filter((m) => !m.online);
    expect(offline).toHaveLength(n);
    expect(new Set(rec.events.filter((e) => e.event.type === 'machine' && !e.event.machine.online).map((e) => (e.event as { machine: { id: string } }).machine.id)).size).toBe(n);
    // Not one transaction holding every row, nor one per machine.
    expect(transactions).toBeGreaterThanOrEqual(Math.ceil(n / OFFLINE_BATCH));
    expect(transactions).toBeLessThan(n / 10);
    presence.close();
  });
});
