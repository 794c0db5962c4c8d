import { describe, expect, it } from 'vitest';
import { createSessionBook } from './session-book.js';
import { hello, memoryStore, recorder, session, T0 } from './test-support.js';

function setup() {
  const store = memoryStore();
  store.ensureNamespace('default');
  const h = hello('m1');
  store.insertMachine({ id: 'm1', namespace: 'default', metadata: h.metadata, metadataVersion: 1, runnerState: h.runnerState, runnerStateVersion: 1, online: true });
  const rec = recorder();
  return { store, rec, book: createSessionBook({ store, publish: rec.publish }) };
}
const at = new Date(T0.getTime() + 60_000);

describe('session book', () => {
  it('stores what the runner reports without its machine-local fields, and publishes it', () => {
    const { store, rec, book } = setup();
    const stored = book.upsert('default', 'm1', session('s1', { logPath: '/tmp/log', processStartTime: '123' }));
    expect(stored).toEqual({ ...session('s1'), machineId: 'm1', namespace: 'default' });
    expect(store.getSession('m1', 's1')).toEqual(stored);
    book.upsert('default', 'm1', session('s1', { pid: 200 }));
    expect(store.getSession('m1', 's1')?.pid).toBe(200);
    expect(rec.events.map((e) => e.event.type === 'session' && e.event.session.pid)).toEqual([100, 200]);
  });

  it('reconciles on hello: reported sessions are stored, other live ones end, ended ones stay as they were', () => {
    const { store, rec, book } = setup();
    book.upsert('default', 'm1', session('gone'));
    book.upsert('default', 'm1', session('kept'));
    const endedAt = new Date(T0.getTime() + 5);
    book.upsert('default', 'm1', session('done', { state: 'ended', endedAt }));
    rec.events.length = 0;
    book.reconcile('default', 'm1', [session('kept'), session('new')], at);
    expect(store.getSession('m1', 'gone')).toMatchObject({ state: 'ended', endedAt: at });
    expect(store.getSession('m1', 'done')).toMatchObject({ state: 'ended', endedAt });
    expect(store.getSession('m1', 'new')).toMatchObject({ state: 'running' });
    const published = rec.events.map((e) => e.event.type === 'session' && e.event.session);
    expect(published).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'gone', state: 'ended' }), expect.objectContaining({ id: 'new' })]));
    expect(published).not.toContainEqual(expect.objectContaining({ id: 'done' }));
  });

  it('an ended event ends the session whatever state it carries; events without an id are dropped', () => {
    const { store, book } = setup();
    book.event('default', 'm1', 'started', session('s1'), at);
    book.event('default', 'm1', 'ended', session('s1'), at);
    expect(store.getSession('m1', 's1')).toMatchObject({ state: 'ended', endedAt: at });
    const own = new Date(T0.getTime() + 1);
    book.event('default', 'm1', 'ended', session('s2', { state: 'ended', endedAt: own, exitCode: 0 }), at);
    expect(store.getSession('m1', 's2')).toMatchObject({ state: 'ended', endedAt: own, exitCode: 0 });
    book.event('default', 'm1', 'adopted', session(''), at);
    expect(store.listSessions('default', { includeEnded: true })).toHaveLength(2);
  });
});
