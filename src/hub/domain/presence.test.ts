import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortedError, PermissionDeniedError, UnavailableError } from '../../shared/errors.js';
import type { HubStore } from './ports.js';
import { aliveIntervalFor, createPresence, sweepIntervalFor } from './presence.js';
import { caller, hello, log, memoryStore, recorder, recordingSink, settle, T0 } from './test-support.js';

const TIMEOUT = 1_000;
const after = (ms: number) => new Date(T0.getTime() + ms);

describe('presence', () => {
  let store: HubStore;
  let rec: ReturnType<typeof recorder>;
  let presence: Awaited<ReturnType<typeof createPresence>>;
  beforeEach(async () => {
    vi.useFakeTimers({ now: T0 });
    store = memoryStore();
    rec = recorder();
    presence = await createPresence({ store, publish: rec.publish, log, now: () => new Date(), aliveTimeoutMs: TIMEOUT });
  });
  afterEach(async () => {
    presence.close();
    await settle();
    store.close();
    vi.useRealTimers();
  });

  const machineEvents = () => rec.events.flatMap((e) => (e.event.type === 'machine' ? [{ id: e.event.machine.id, online: e.event.machine.online }] : []));

  it('derives the alive interval and the sweep period from the timeout', async () => {
    expect(aliveIntervalFor(45_000)).toBe(20_000);
    expect(aliveIntervalFor(900)).toBe(400);
    expect(aliveIntervalFor(10)).toBe(50);
    expect(sweepIntervalFor(45_000)).toBe(1_000);
    expect(sweepIntervalFor(TIMEOUT)).toBe(200);
    expect(sweepIntervalFor(100)).toBe(50);
  });

  it('makes sure of a namespace once, at its first new machine, not at every new machine of a herd', async () => {
    const transaction = store.transaction.bind(store);
    const ensured: string[] = [];
    store.transaction = (work) =>
      transaction((tx) => {
        const ensure = tx.ensureNamespace.bind(tx);
        return work({ ...tx, ensureNamespace: (name) => (ensured.push(name), ensure(name)) } as typeof tx);
      });
    for (const id of ['m1', 'm2', 'm3']) await presence.connect(caller(), hello(id), recordingSink());
    await presence.connect(caller('team'), hello('t1'), recordingSink());
    await presence.connect(caller('team'), hello('t2'), recordingSink());
    expect(ensured).toEqual(['default', 'team']);
    expect((await store.listMachines('team')).map((m) => m.id)).toEqual(['t1', 't2']);
  });

  it('marks every stored machine offline when it starts: nobody is connected yet', async () => {
    const { conn } = await presence.connect(caller(), hello('m1'), recordingSink());
    presence.close();
    await settle();
    await store.saveMachine({ ...(await store.getMachine('m1'))!, online: true });
    presence = await createPresence({ store, publish: rec.publish, log, now: () => new Date(), aliveTimeoutMs: TIMEOUT });
    expect((await store.getMachine('m1'))?.online).toBe(false);
    expect(conn.detached).toBe(true);
  });

  it('connect creates the machine online, or brings it back online with the reported values', async () => {
    const first = await presence.connect(caller(), hello('m1'), recordingSink());
    expect(first.machine).toMatchObject({ namespace: 'default', online: true, metadataVersion: 1, runnerStateVersion: 1, lastAlive: T0, onlineSince: T0 });
    expect(await store.getMachine('m1')).toEqual(first.machine);
    presence.detach(first.conn, 'test');
    await settle();
    expect(await store.getMachine('m1')).toMatchObject({ online: false, runnerState: { status: 'lost', lostAt: T0, pid: 42 }, runnerStateVersion: 2 });

    await vi.advanceTimersByTimeAsync(50);
    const h = hello('m1');
    const again = await presence.connect(caller(), { ...h, runnerState: { ...h.runnerState, pid: 43 } }, recordingSink());
    // Lost (version 2), then the hello's state (version 3).
    expect(again.machine).toMatchObject({ online: true, metadataVersion: 1, runnerStateVersion: 3, onlineSince: after(50) });
    expect(again.machine.runnerState).toMatchObject({ status: 'running', pid: 43 });
    expect(machineEvents()).toEqual([
      { id: 'm1', online: true },
      { id: 'm1', online: false },
      { id: 'm1', online: true },
    ]);
  });

  it('refuses a machine id of another namespace', async () => {
    await presence.connect(caller('team'), hello('m1'), recordingSink());
    await expect(presence.connect(caller('other'), hello('m1'), recordingSink())).rejects.toThrow(PermissionDeniedError);
    expect((await store.getMachine('m1'))?.namespace).toBe('team');
    expect(await store.listMachines('other')).toEqual([]);
  });

  it('keeps a machine online while alive messages come, and takes it offline after the timeout', async () => {
    const sink = recordingSink();
    const { conn } = await presence.connect(caller(), hello('m1'), sink);
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(800);
      presence.alive(conn);
    }
    expect(sink.closedWith).toBeUndefined();
    // Alive messages only touch memory: the store keeps the connect time, reads show memory's.
    await vi.advanceTimersByTimeAsync(200);
    expect((await store.getMachine('m1'))?.lastAlive).toEqual(T0);
    expect(presence.withLastAlive((await store.getMachine('m1'))!).lastAlive).toEqual(after(4_000));

    await vi.advanceTimersByTimeAsync(1_000);
    expect(sink.closedWith).toBeInstanceOf(UnavailableError);
    expect(conn.detached).toBe(true);
    expect(presence.get('m1')).toBeUndefined();
    expect(await store.getMachine('m1')).toMatchObject({ online: false, lastAlive: after(4_000) });
    expect(machineEvents().at(-1)).toEqual({ id: 'm1', online: false });
  });

  it('writes nothing to the database per alive message: the machine once per connect, and its offline mark at the end', async () => {
    const writes: string[] = [];
    for (const name of ['insertMachine', 'saveMachine', 'saveLastAlive', 'markAllOffline', 'ensureNamespace', 'upsertSession'] as const) {
      const real = (store[name] as (...a: unknown[]) => Promise<unknown>).bind(store);
      (store as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => (writes.push(name), real(...a));
    }
    // The ports handed to a transaction are the adapter's own: count the transactions too.
    const transaction = store.transaction.bind(store);
    store.transaction = (work) => (writes.push('transaction'), transaction(work));
    const { conn } = await presence.connect(caller(), hello('m1'), recordingSink());
    expect(writes).toEqual(['transaction']);
    writes.length = 0;
    for (let i = 0; i < 50; i++) {
      await vi.advanceTimersByTimeAsync(150);
      presence.alive(conn);
    }
    expect(writes).toEqual([]);
    expect(presence.withLastAlive((await store.getMachine('m1'))!)).toMatchObject({ online: true, lastAlive: after(7_500) });
    presence.detach(conn, 'runner closed the stream');
    await settle();
    expect(writes).toEqual(['transaction']);
    expect(await store.getMachine('m1')).toMatchObject({ online: false, lastAlive: after(7_500) });
    // A reconnect writes the machine once more.
    writes.length = 0;
    await presence.connect(caller(), hello('m1'), recordingSink());
    expect(writes).toEqual(['transaction']);
  });

  it('detach takes the machine offline at once, fails its pending calls, and is idempotent', async () => {
    const { conn } = await presence.connect(caller(), hello('m1'), recordingSink());
    presence.alive(conn);
    const call = conn.pending.request({ method: 'status' }, 10_000, () => {});
    await vi.advanceTimersByTimeAsync(30);
    presence.detach(conn, 'runner closed the stream');
    await settle();
    await expect(call).rejects.toThrow(/disconnected before answering/);
    expect(await store.getMachine('m1')).toMatchObject({ online: false, onlineSince: after(30), lastAlive: T0 });
    const events = rec.events.length;
    presence.detach(conn, 'again');
    await settle();
    expect(rec.events).toHaveLength(events);
    expect(presence.size).toBe(0);
  });

  it('a stream from another install with the same machine id is refused while the first is online; the same install replaces', async () => {
    const first = await presence.connect(caller(), hello('m1', { installFingerprint: 'aaa' }), recordingSink());
    const other = hello('m1', { installFingerprint: 'bbb' });
    await expect(presence.connect(caller(), other, recordingSink())).rejects.toThrow(/already online from another install.*hapi runner reset-machine-id/);
    expect(presence.get('m1')).toBe(first.conn);
    expect(first.conn.detached).toBe(false);
    // A restart of the same install, or a runner that sends no fingerprint, replaces it.
    const restart = await presence.connect(caller(), hello('m1', { installFingerprint: 'aaa' }), recordingSink());
    expect(first.conn.detached).toBe(true);
    const legacy = await presence.connect(caller(), hello('m1'), recordingSink());
    expect(restart.conn.detached).toBe(true);
    presence.detach(legacy.conn, 'gone');
    await settle();
    // Once the first is offline, the other install may connect.
    expect((await presence.connect(caller(), other, recordingSink())).conn.installFingerprint).toBe('bbb');
  });

  it('a newer stream replaces the older: the old one is closed, its calls fail, its end changes nothing', async () => {
    const oldSink = recordingSink();
    const old = (await presence.connect(caller(), hello('m1'), oldSink)).conn;
    const call = old.pending.request({ method: 'status' }, 10_000, () => {});
    const fresh = (await presence.connect(caller(), hello('m1'), recordingSink())).conn;
    expect(oldSink.closedWith).toBeInstanceOf(AbortedError);
    await expect(call).rejects.toThrow(/reconnected before answering/);
    presence.detach(old, 'stream ended');
    await settle();
    expect(presence.get('m1')).toBe(fresh);
    expect((await store.getMachine('m1'))?.online).toBe(true);
    expect(presence.size).toBe(1);
  });

  it('close ends every stream with Unavailable and stops the sweeper', async () => {
    const a = recordingSink();
    const b = recordingSink();
    await presence.connect(caller(), hello('m1'), a);
    await presence.connect(caller(), hello('m2'), b);
    presence.close();
    await settle();
    expect(a.closedWith).toBeInstanceOf(UnavailableError);
    expect(b.closedWith).toBeInstanceOf(UnavailableError);
    expect((await store.listMachines('default')).map((m) => m.online)).toEqual([false, false]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
