import { describe, expect, it } from 'vitest';
import { createActivityBook, type AttentionEvent } from './session-activity.js';
import type { AgentActivityInfo, ApprovalDecisionName } from '../../contract/activity-types.js';
import type { HubEvent, HubSession } from './types.js';

const session = (id: string, state: HubSession['state'] = 'running'): HubSession => ({
  id, machineId: 'm', namespace: 'ns', pid: 1, startedBy: 'runner', directory: '/w', agent: 'a', startedAt: new Date(0), state,
});

describe('activity book', () => {
  it('holds what the runner reported for its live sessions and publishes each change once', async () => {
    const sessions = new Map([['s1', session('s1')], ['old', session('old', 'ended')]]);
    const events: [string, HubEvent][] = [];
    const book = createActivityBook({ store: { getSession: async (_m, id) => sessions.get(id) }, publish: (ns, e) => events.push([ns, e]) });
    const entry = { sessionId: 's1', lastOutputAt: new Date(5), lastLine: '> ready' };
    await book.record('ns', 'm', [entry, { sessionId: 'old', lastLine: 'x' }, { sessionId: 'unknown', lastLine: 'y' }]);
    await book.record('ns', 'm', [{ ...entry, lastOutputAt: new Date(5) }]);
    expect(book.of('m', 's1')).toEqual({ lastOutputAt: new Date(5), lastLine: '> ready' });
    expect(book.of('m', 'old')).toBeUndefined();
    expect(events).toHaveLength(1);
    expect(events[0]![1]).toMatchObject({ type: 'session', session: { id: 's1' } });
    // Another namespace's report about this session changes nothing.
    await book.record('other', 'm', [{ sessionId: 's1', lastLine: 'spoofed' }]);
    expect(book.of('m', 's1')?.lastLine).toBe('> ready');
    book.forget('ns', 'm', 's1');
    expect(book.of('m', 's1')).toBeUndefined();
  });

  it('tells attention listeners of state changes, new requests, settled requests and the end', async () => {
    const sessions = new Map([['s1', session('s1')]]);
    const book = createActivityBook({ store: { getSession: async (_m, id) => sessions.get(id) }, publish: () => undefined, now: () => new Date(9) });
    const seen: AttentionEvent[] = [];
    const stop = book.onAttention((e) => seen.push(e));
    const request = { id: 'r1', tool: 'Bash', command: 'ls', file: '', description: '', choices: ['allow', 'deny'] as ApprovalDecisionName[], requestedAt: new Date(1), atTerminal: false };
    const act = (state: AgentActivityInfo['state'], requests = [] as AgentActivityInfo['requests']): AgentActivityInfo => ({ state, guess: false, message: '', requests, since: new Date(1), source: 'claude-hooks' });
    await book.record('ns', 'm', [{ sessionId: 's1', lastLine: 'a', activity: act('working') }]);
    await book.record('ns', 'm', [{ sessionId: 's1', lastLine: 'b', activity: act('working') }]);
    await book.record('ns', 'm', [{ sessionId: 's1', lastLine: 'b', activity: act('needs_approval', [request]) }]);
    await book.settled('ns', 'm', 's1', 'r1');
    await book.settled('ns', 'm', 's1', 'r1');
    book.forget('ns', 'm', 's1');
    expect(seen.map((e) => [e.state, e.previous, e.newRequests.map((r) => r.id)])).toEqual([
      ['working', undefined, []],
      ['needs_approval', 'working', ['r1']],
      ['working', 'needs_approval', []],
      ['exited', 'working', []],
    ]);
    expect(seen[1]).toMatchObject({ namespace: 'ns', machineId: 'm', sessionId: 's1', requests: [{ id: 'r1', command: 'ls' }] });
    stop();
    await book.record('ns', 'm', [{ sessionId: 's1', lastLine: 'c', activity: act('waiting_for_input') }]);
    expect(seen).toHaveLength(4);
  });
});
