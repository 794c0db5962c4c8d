import { describe, expect, it } from 'vitest';
import { HapiError } from '../shared/errors.js';
import type { SessionInfo } from '../contract/types.js';
import type { SessionEvent, SessionManager } from './domain.js';
import { createReadiness, createRunnerControl, type RunnerStatus, type ShutdownReason } from './runner-control.js';

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

describe('runner control', () => {
  const session: SessionInfo = { id: 's-1', pid: 42, startedBy: 'terminal', directory: '/w', agent: 'claude', startedAt: new Date(0), state: 'running' };

  function setup() {
    const readiness = createReadiness();
    const listeners = new Set<(e: SessionEvent) => void>();
    const live: SessionInfo[] = [session];
    const manager = {
      list: () => [...live],
      spawn: async (spec) => ({ kind: 'approval-required', directory: spec.directory }),
      stop: async () => ({ result: 'already-gone', sessionId: 's-1' }),
      reportStarted: (r) => ({ ...session, id: r.sessionId }),
      reportEnded: () => undefined,
      subscribe(l) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    } as Partial<SessionManager> as SessionManager;
    const stops: ShutdownReason[] = [];
    const control = createRunnerControl({
      readiness,
      sessions: () => manager,
      status: () => ({ pid: 99 }) as RunnerStatus,
      requestStop: (r) => stops.push(r),
    });
    return { readiness, control, stops, listeners, live };
  }

  it('holds every session operation until the runner is ready', async () => {
    const { readiness, control } = setup();
    const calls = [
      control.listSessions(),
      control.spawnSession({ directory: '/new', approveCreateDirectory: false, agentArgs: [] }),
      control.stopSession({ sessionId: 's-1' }),
      control.sessionStarted({ sessionId: 's-2', hostPid: 5, startedBy: 'terminal' }),
      control.sessionEnded({ sessionId: 's-2' }),
    ];
    for (const c of calls) expect(await settled(c)).toBe('pending');
    readiness.set('ready');
    expect(await Promise.all(calls)).toEqual([
      [session],
      { kind: 'approval-required', directory: '/new' },
      { result: 'already-gone', sessionId: 's-1' },
      { ...session, id: 's-2' },
      undefined,
    ]);
  });

  it('fails session operations with Unavailable once shutdown begins; status and stop still answer', async () => {
    const { readiness, control, stops } = setup();
    readiness.set('stopping');
    await expect(control.listSessions()).rejects.toMatchObject({ kind: 'Unavailable', message: 'runner is shutting down' });
    await expect(control.watchSessions(() => undefined)).rejects.toMatchObject({ kind: 'Unavailable' });
    expect(control.status().pid).toBe(99);
    expect(control.stopRunner('hub')).toBe(99);
    expect(stops).toEqual(['hub']);
  });

  it('watches sessions from the current list on, and stops on unsubscribe', async () => {
    const { readiness, control, listeners } = setup();
    readiness.set('ready');
    const seen: SessionEvent[] = [];
    const watch = await control.watchSessions((e) => seen.push(e));
    expect(watch.sessions).toEqual([session]);
    for (const l of listeners) l({ kind: 'ended', session });
    expect(seen).toEqual([{ kind: 'ended', session }]);
    watch.unsubscribe();
    expect(listeners.size).toBe(0);
  });

  it('answers every call in flight before shutdown goes on: finished within the grace, or Unavailable', async () => {
    const { readiness, control } = setup();
    readiness.set('ready');
    const quick = control.stopSession({ sessionId: 's-1' });
    // A stop that finishes within the grace keeps its own answer.
    await expect(quick).resolves.toEqual({ result: 'already-gone', sessionId: 's-1' });
    const hanging = createRunnerControl({
      readiness,
      sessions: () => ({ stop: () => new Promise(() => undefined) }) as Partial<SessionManager> as SessionManager,
      status: () => ({ pid: 99 }) as RunnerStatus,
      requestStop: () => undefined,
    });
    const stuck = hanging.stopSession({ sessionId: 's-1' });
    expect(await settled(stuck)).toBe('pending');
    await hanging.answerInFlight(20);
    await expect(stuck).rejects.toMatchObject({ kind: 'Unavailable', message: 'the runner is shutting down' });
  });
});
