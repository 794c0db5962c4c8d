import { describe, expect, it } from 'vitest';
import { createActivityBook } from './session-activity.js';
import type { HubEvent, HubSession } from './types.js';

const session = (id: string, state: HubSession['state'] = 'running'): HubSession => ({
  id, machineId: 'm', namespace: 'ns', pid: 1, startedBy: 'runner', directory: '/w', agent: 'a', startedAt: new Date(0), state,
});

describe('activity book', () => {
  it('holds what the runner reported for its live sessions and publishes each change once', () => {
    const sessions = new Map([['s1', session('s1')], ['old', session('old', 'ended')]]);
    const events: [string, HubEvent][] = [];
    const book = createActivityBook({ store: { getSession: (_m, id) => sessions.get(id) }, publish: (ns, e) => events.push([ns, e]) });
    const entry = { sessionId: 's1', lastOutputAt: new Date(5), lastLine: '> ready' };
    book.record('ns', 'm', [entry, { sessionId: 'old', lastLine: 'x' }, { sessionId: 'unknown', lastLine: 'y' }]);
    book.record('ns', 'm', [{ ...entry, lastOutputAt: new Date(5) }]);
    expect(book.of('m', 's1')).toEqual({ lastOutputAt: new Date(5), lastLine: '> ready' });
    expect(book.of('m', 'old')).toBeUndefined();
    expect(events).toHaveLength(1);
    expect(events[0]![1]).toMatchObject({ type: 'session', session: { id: 's1' } });
    // Another namespace's report about this session changes nothing.
    book.record('other', 'm', [{ sessionId: 's1', lastLine: 'spoofed' }]);
    expect(book.of('m', 's1')?.lastLine).toBe('> ready');
    book.forget('m', 's1');
    expect(book.of('m', 's1')).toBeUndefined();
  });
});
