import { describe, expect, it } from 'vitest';
import type { ActivityEvent, ActivityStateName, Notification } from './activity-event.js';
import { createNotifier, type NotifierClock, type NotifyOutcome } from './notifier.js';

/** A manual clock: timers run when the test advances time. */
function manualClock() {
  let t = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const clock: NotifierClock = {
    now: () => t,
    setTimer(fn, ms) {
      const timer = { at: t + ms, fn, live: true };
      timers.push(timer);
      return () => (timer.live = false);
    },
  };
  return {
    clock,
    advance(ms: number) {
      t += ms;
      for (const timer of timers.filter((x) => x.live && x.at <= t).sort((a, b) => a.at - b.at)) {
        timer.live = false;
        timer.fn();
      }
    },
  };
}

function setup(opts: { coalesceMs?: number; exit?: boolean; viewed?: Set<string>; muted?: Set<string>; burst?: number } = {}) {
  const c = manualClock();
  let listener: ((e: ActivityEvent) => void) | undefined;
  const sent: Notification[] = [];
  const outcomes: NotifyOutcome[] = [];
  const notifier = createNotifier({
    source: { subscribe: (l) => ((listener = l), () => (listener = undefined)) },
    channels: [{ name: 'test', send: async (n) => void sent.push(n) }],
    isBeingViewed: (_ns, _m, s) => opts.viewed?.has(s) ?? false,
    isMuted: (_ns, _m, s) => opts.muted?.has(s) ?? false,
    notifyOnExit: () => opts.exit ?? false,
    describe: (e) => ({ machineName: `name-${e.machineId}`, sessionName: e.sessionId, screen: ['$ ls'] }),
    coalesceMs: opts.coalesceMs ?? 2000,
    namespaceLimit: { burst: opts.burst ?? 100, intervalMs: 1000 },
    clock: c.clock,
    onOutcome: (o) => outcomes.push(o),
  });
  const emit = (state: ActivityStateName, requests: string[] = [], sessionId = 's1', namespace = 'ns') =>
    listener?.({
      namespace,
      machineId: 'm1',
      sessionId,
      state,
      requests: requests.map((id) => ({ id, tool: 'Bash', command: `echo ${id}`, file: '', description: '', choices: ['allow', 'deny'] })),
      at: new Date(0),
    });
  const flush = async (ms = 2000) => {
    c.advance(ms);
    await notifier.idle();
  };
  return { notifier, emit, raw: (e: ActivityEvent) => listener?.(e), sent, outcomes, flush, advance: c.advance, isSubscribed: () => listener !== undefined };
}

describe('notifier', () => {
  it('sends one notification for a change of state after the window, with names and screen', async () => {
    const t = setup();
    t.emit('waiting_for_input');
    expect(t.sent).toHaveLength(0);
    await t.flush(1999);
    expect(t.sent).toHaveLength(0);
    await t.flush(1);
    expect(t.sent).toHaveLength(1);
    expect(t.sent[0]).toMatchObject({ namespace: 'ns', machineId: 'm1', sessionId: 's1', state: 'waiting_for_input', machineName: 'name-m1', screen: ['$ ls'] });
  });

  it('folds a burst into one message about the state at the end of the window', async () => {
    const t = setup();
    t.emit('waiting_for_input');
    t.advance(500);
    t.emit('working');
    t.advance(500);
    t.emit('needs_approval', ['r1']);
    t.emit('needs_approval', ['r1', 'r2']);
    await t.flush();
    expect(t.sent).toHaveLength(1);
    expect(t.sent[0]!.state).toBe('needs_approval');
    expect(t.sent[0]!.requests.map((r) => r.id)).toEqual(['r1', 'r2']);
  });

  it('sends nothing when the burst ends back at work', async () => {
    const t = setup();
    t.emit('waiting_for_input');
    t.emit('working');
    await t.flush();
    expect(t.sent).toHaveLength(0);
    expect(t.outcomes).toEqual(['not-notable']);
  });

  it('one per change: the same state reported again is not news; a new turn is', async () => {
    const t = setup();
    t.emit('waiting_for_input');
    await t.flush();
    t.emit('waiting_for_input');
    await t.flush();
    expect(t.sent).toHaveLength(1);
    t.emit('working');
    await t.flush();
    t.emit('waiting_for_input');
    await t.flush();
    expect(t.sent).toHaveLength(2);
  });

  it('notifies each approval request once, however many reports carry it', async () => {
    const t = setup();
    t.emit('needs_approval', ['r1']);
    await t.flush();
    t.emit('needs_approval', ['r1']);
    await t.flush();
    expect(t.sent).toHaveLength(1);
    t.emit('needs_approval', ['r1', 'r2']);
    await t.flush();
    expect(t.sent).toHaveLength(2);
    // r1 answered: r2 alone is no news.
    t.emit('needs_approval', ['r2']);
    await t.flush();
    expect(t.sent).toHaveLength(2);
  });

  it('sends nothing while someone views the session, and does not send it later either', async () => {
    const viewed = new Set(['s1']);
    const t = setup({ viewed });
    t.emit('waiting_for_input');
    await t.flush();
    expect(t.outcomes).toEqual(['viewed']);
    viewed.clear();
    t.emit('waiting_for_input');
    await t.flush();
    expect(t.sent).toHaveLength(0);
  });

  it('a muted session sends nothing; others still do', async () => {
    const t = setup({ muted: new Set(['s1']) });
    t.emit('needs_approval', ['r1'], 's1');
    t.emit('needs_approval', ['r2'], 's2');
    await t.flush();
    expect(t.sent.map((n) => n.sessionId)).toEqual(['s2']);
    expect(t.outcomes).toContain('muted');
  });

  it('an exit is notified only when the namespace asked for it', async () => {
    const off = setup();
    off.emit('working');
    off.emit('exited');
    await off.flush();
    expect(off.sent).toHaveLength(0);
    const on = setup({ exit: true });
    on.emit('working');
    on.emit('exited');
    await on.flush();
    expect(on.sent.map((n) => n.state)).toEqual(['exited']);
  });

  it('reads the mute and the exit setting from the store when the window closes, not before', async () => {
    // Another hub on the same database may change them while a window is open.
    const c = manualClock();
    let listener: ((e: ActivityEvent) => void) | undefined;
    const sent: string[] = [];
    const outcomes: NotifyOutcome[] = [];
    const errors: string[] = [];
    const stored = { muted: false, exit: false, down: false };
    const read = async <T>(v: T): Promise<T> => {
      await new Promise((r) => setImmediate(r));
      if (stored.down) throw new Error('database unavailable');
      return v;
    };
    const n = createNotifier({
      source: { subscribe: (l) => ((listener = l), () => (listener = undefined)) },
      channels: [{ name: 'test', send: async (x) => void sent.push(`${x.sessionId}:${x.state}`) }],
      isBeingViewed: () => false,
      isMuted: () => read(stored.muted),
      notifyOnExit: () => read(stored.exit),
      describe: () => ({ machineName: 'm', sessionName: 's', screen: [] }),
      clock: c.clock,
      onError: (_err, where) => errors.push(where),
      onOutcome: (o) => outcomes.push(o),
    });
    const emit = (sessionId: string, state: ActivityStateName) => listener!({ namespace: 'ns', machineId: 'm1', sessionId, state, requests: [], at: new Date() });
    emit('s1', 'waiting_for_input');
    stored.muted = true;
    c.advance(2000);
    await n.idle();
    expect(outcomes).toEqual(['muted']);
    stored.muted = false;
    emit('s2', 'working');
    emit('s2', 'exited');
    stored.exit = true;
    c.advance(2000);
    await n.idle();
    expect(sent).toEqual(['s2:exited']);
    emit('s3', 'working');
    emit('s3', 'exited');
    stored.exit = false;
    c.advance(2000);
    await n.idle();
    expect(outcomes.at(-1)).toBe('not-notable');
    stored.down = true;
    emit('s4', 'waiting_for_input');
    c.advance(2000);
    await n.idle();
    expect(sent).toEqual(['s2:exited']);
    expect(outcomes.at(-1)).toBe('failed');
    expect(errors).toEqual(['settings']);
    n.close();
  });

  it('keeps sessions and namespaces apart', async () => {
    const t = setup();
    t.emit('waiting_for_input', [], 's1', 'a');
    t.emit('waiting_for_input', [], 's1', 'b');
    await t.flush();
    expect(t.sent.map((n) => n.namespace).sort()).toEqual(['a', 'b']);
  });

  it('rate-limits a namespace', async () => {
    const t = setup({ burst: 2 });
    for (const s of ['s1', 's2', 's3']) t.emit('waiting_for_input', [], s);
    await t.flush();
    expect(t.sent).toHaveLength(2);
    expect(t.outcomes.filter((o) => o === 'rate-limited')).toHaveLength(1);
  });

  it('requests left to a person at the terminal are not notified', async () => {
    const t = setup();
    const req = (id: string, atTerminal: boolean) => ({ id, tool: 'Bash', command: 'x', file: '', description: '', choices: ['allow'], atTerminal });
    t.raw({ namespace: 'ns', machineId: 'm1', sessionId: 's1', state: 'needs_approval', requests: [req('r1', true)], at: new Date() });
    await t.flush();
    expect(t.sent).toHaveLength(0);
    t.raw({ namespace: 'ns', machineId: 'm1', sessionId: 's1', state: 'needs_approval', requests: [req('r1', true), req('r2', false)], at: new Date() });
    await t.flush();
    expect(t.sent.map((n) => n.requests.map((r) => r.id))).toEqual([['r2']]);
  });

  it('a failing channel does not stop the others; close unsubscribes and drops windows', async () => {
    const sent: string[] = [];
    const errors: string[] = [];
    let listener: ((e: ActivityEvent) => void) | undefined;
    const c = manualClock();
    const n = createNotifier({
      source: { subscribe: (l) => ((listener = l), () => (listener = undefined)) },
      channels: [
        { name: 'broken', send: () => Promise.reject(new Error('down')) },
        { name: 'ok', send: async (x) => void sent.push(x.sessionId) },
      ],
      isBeingViewed: () => false,
      isMuted: () => false,
      notifyOnExit: () => false,
      describe: () => ({ machineName: 'm', sessionName: 's', screen: [] }),
      clock: c.clock,
      onError: (_err, where) => errors.push(where),
    });
    listener!({ namespace: 'ns', machineId: 'm', sessionId: 's', state: 'waiting_for_input', requests: [], at: new Date() });
    c.advance(5000);
    await n.idle();
    expect(sent).toEqual(['s']);
    expect(errors).toEqual(['broken']);
    listener!({ namespace: 'ns', machineId: 'm', sessionId: 't', state: 'waiting_for_input', requests: [], at: new Date() });
    expect(n.pending).toBe(1);
    n.close();
    expect(n.pending).toBe(0);
    expect(listener).toBeUndefined();
  });
});
