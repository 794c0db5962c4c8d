import { describe, expect, it } from 'vitest';
import { createActivityTracker } from './activity-tracker.js';

const ask = { tool: 'Bash', command: 'ls', file: '', description: '', sessionAllowSupported: false, source: 'claude-hooks' };
const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('activity tracker', () => {
  it('guesses from the terminal: output then quiet is waiting, output again is working', async () => {
    const t = createActivityTracker({ idleMs: 30, approvalTimeoutMs: 1000, personAtTerminal: () => false });
    t.output();
    expect(t.current()).toMatchObject({ state: 'working', guess: true, source: 'terminal' });
    await waitFor(() => t.current().state === 'waiting_for_input');
    expect(t.current().guess).toBe(true);
    t.output();
    expect(t.current().state).toBe('working');
    t.close();
  });

  it('stops guessing once a hook spoke', async () => {
    const t = createActivityTracker({ idleMs: 10, approvalTimeoutMs: 1000, personAtTerminal: () => false });
    t.report('waiting_for_input', 'Claude needs your input', 'claude-hooks');
    t.output();
    await new Promise((r) => setTimeout(r, 40));
    expect(t.current()).toMatchObject({ state: 'waiting_for_input', guess: false, message: 'Claude needs your input', source: 'claude-hooks' });
    t.close();
  });

  it('holds a request until decided; a second decision is refused and never applied elsewhere', async () => {
    const changes: string[] = [];
    const t = createActivityTracker({ idleMs: 1000, approvalTimeoutMs: 5000, personAtTerminal: () => false, onChange: (a) => changes.push(a.state) });
    const first = t.requestApproval(ask, new AbortController().signal);
    const second = t.requestApproval({ ...ask, command: 'rm -rf x' }, new AbortController().signal);
    const [r1, r2] = t.current().requests;
    expect(t.current().state).toBe('needs_approval');
    expect(t.decide(r1!.id, 'allow', '')).toMatchObject({ id: r1!.id, command: 'ls' });
    expect(await first).toMatchObject({ decision: 'allow' });
    expect(() => t.decide(r1!.id, 'deny', '')).toThrow(/no longer pending/);
    expect(() => t.decide(r2!.id, 'allow_session', '')).toThrow(/does not offer/);
    t.decide(r2!.id, 'deny', 'not that');
    expect(await second).toMatchObject({ decision: 'deny', message: 'not that' });
    expect(t.current()).toMatchObject({ state: 'working', requests: [] });
    expect(changes).toContain('needs_approval');
    t.close();
  });

  it('leaves the request to the terminal when a person is at it, and after the timeout; the next report clears it', async () => {
    let atTerminal = true;
    const t = createActivityTracker({ idleMs: 1000, approvalTimeoutMs: 20, personAtTerminal: () => atTerminal });
    expect(await t.requestApproval(ask, new AbortController().signal)).toMatchObject({ decision: 'none', reason: 'terminal' });
    expect(t.current().requests[0]).toMatchObject({ atTerminal: true });
    expect(() => t.decide(t.current().requests[0]!.id, 'allow', '')).toThrow(/at the terminal/);
    atTerminal = false;
    expect(await t.requestApproval(ask, new AbortController().signal)).toMatchObject({ decision: 'none', reason: 'timeout' });
    expect(t.current().requests).toHaveLength(2);
    // Claude Code's notification that its dialog waits: nothing moved on.
    t.report('waiting_for_input', 'Claude needs your permission to use Bash', 'claude-hooks', true);
    expect(t.current()).toMatchObject({ state: 'needs_approval', message: 'Claude needs your permission to use Bash' });
    t.report('working', '', 'claude-hooks');
    expect(t.current()).toMatchObject({ state: 'working', requests: [] });
    t.close();
  });

  it('withdraws a request whose hook went, and answers waiting hooks when the agent exits', async () => {
    const t = createActivityTracker({ idleMs: 1000, approvalTimeoutMs: 5000, personAtTerminal: () => false });
    const gone = new AbortController();
    void t.requestApproval(ask, gone.signal);
    gone.abort();
    expect(t.current().requests).toHaveLength(0);
    const waiting = t.requestApproval(ask, new AbortController().signal);
    t.exited();
    expect(await waiting).toMatchObject({ decision: 'none', reason: 'exited' });
    expect(t.current()).toMatchObject({ state: 'exited', requests: [] });
  });
});
