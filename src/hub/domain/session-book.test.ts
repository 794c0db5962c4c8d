import { describe, expect, it } from 'vitest';
import { createSessionBook } from './session-book.js';
import { hello, memoryStore, recorder, session, T0 } from './test-support.js';

async function setup() {
  const store = memoryStore();
  await store.ensureNamespace('default');
  const h = hello('m1');
  await store.insertMachine({ id: 'm1', namespace: 'default', metadata: h.metadata, metadataVersion: 1, runnerState: h.runnerState, runnerStateVersion: 1, online: true });
  const rec = recorder();
  return { store, rec, book: createSessionBook({ store, publish: rec.publish }) };
}
const at = new Date(T0.getTime() + 60_000);

describe('session book', () => {
  it('stores what the runner reports without its machine-local fields, and publishes it', async () => {
    const { store, rec, book } = await setup();
    const stored = await book.upsert('default', 'm1', session('s1', { logPath: '/tmp/log', processStartTime: '123' }));
    expect(stored).toEqual({ ...session('s1'), machineId: 'm1', namespace: 'default' });
    expect(await store.getSession('m1', 's1')).toEqual(stored);
    await book.upsert('default', 'm1', session('s1', { pid: 200 }));
    expect((await store.getSession('m1', 's1'))?.pid).toBe(200);
    expect(rec.events.map((e) => e.event.type === 'session' && e.event.session.pid)).toEqual([100, 200]);
  });

  it('reconciles on hello: reported sessions are stored, other live ones end, ended ones stay as they were', async () => {
    const { store, rec, book } = await setup();
    await book.upsert('default', 'm1', session('gone'));
    await book.upsert('default', 'm1', session('kept'));
    const endedAt = new Date(T0.getTime() + 5);
    await book.upsert('default', 'm1', session('done', { state: 'ended', endedAt }));
    rec.events.length = 0;
    await book.reconcile('default', 'm1', [session('kept'), session('new')], at);
    expect(await store.getSession('m1', 'gone')).toMatchObject({ state: 'ended', endedAt: at });
    expect(await store.getSession('m1', 'done')).toMatchObject({ state: 'ended', endedAt });
    expect(await store.getSession('m1', 'new')).toMatchObject({ state: 'running' });
    const published = rec.events.map((e) => e.event.type === 'session' && e.event.session);
    expect(published).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'gone', state: 'ended' }), expect.objectContaining({ id: 'new' })]));
    expect(published).not.toContainEqual(expect.objectContaining({ id: 'done' }));
  });

  it('an ended event ends the session whatever state it carries; events without an id are dropped', async () => {
    const { store, book } = await setup();
    await book.event('default', 'm1', 'started', session('s1'), at);
    await book.event('default', 'm1', 'ended', session('s1'), at);
    expect(await store.getSession('m1', 's1')).toMatchObject({ state: 'ended', endedAt: at });
    const own = new Date(T0.getTime() + 1);
    await book.event('default', 'm1', 'ended', session('s2', { state: 'ended', endedAt: own, exitCode: 0 }), at);
    expect(await store.getSession('m1', 's2')).toMatchObject({ state: 'ended', endedAt: own, exitCode: 0 });
    await book.event('default', 'm1', 'adopted', session(''), at);
    expect(await store.listSessions('default', { includeEnded: true })).toHaveLength(2);
  });
});

describe('unchanged reports', () => {
  it('a session reported again unchanged (as every hello does) is neither saved nor published again', async () => {
    const { store, rec, book } = await setup();
    const worktree = { path: '/work-x', branch: 'hapi/x', repository: '/work' };
    const s1 = session('s1', { worktree, exitSignal: undefined });
    await book.reconcile('default', 'm1', [s1], at);
    expect(rec.events).toHaveLength(1);
    let writes = 0;
    const upsertSession = store.upsertSession.bind(store);
    store.upsertSession = async (s) => void (writes++, await upsertSession(s));
    // The same report, its keys in another order and its Dates new objects, like a hello's.
    const again = Object.fromEntries(Object.entries({ ...s1, startedAt: new Date(T0.getTime()), worktree: { ...worktree } }).reverse());
    await book.reconcile('default', 'm1', [again as unknown as typeof s1], at);
    await book.event('default', 'm1', 'adopted', session('s1', { worktree }), at);
    expect(writes).toBe(0);
    expect(rec.events).toHaveLength(1);
    // A change is saved and published.
    await book.reconcile('default', 'm1', [session('s1', { worktree, pid: 101 })], at);
    expect(writes).toBe(1);
    expect(rec.events).toHaveLength(2);
  });
});
