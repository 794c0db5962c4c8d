// The page's wording and ordering helpers (pure functions of web/src/format.ts).
import { describe, expect, it } from 'vitest';
import { ago, compareMachines, compareSessions, duration, exitLabel, machineName, runnerStatusLabel, sessionAge } from '../web/src/format.js';
import type { Machine, Session } from '../web/src/types.js';

const NOW = Date.parse('2026-01-15T12:00:00Z');

describe('format', () => {
  it('words durations in the largest sensible units', () => {
    expect(duration(-5)).toBe('0 s');
    expect(duration(59_999)).toBe('59 s');
    expect(duration(60_000)).toBe('1 min');
    expect(duration(3 * 3600_000)).toBe('3 h');
    expect(duration(3 * 3600_000 + 12 * 60_000)).toBe('3 h 12 min');
    expect(duration(50 * 3600_000)).toBe('2 d 2 h');
    expect(ago('2026-01-15T11:59:18Z', NOW)).toBe('42 s ago');
    expect(ago(undefined, NOW)).toBe('');
    expect(ago('not a time', NOW)).toBe('');
  });

  it('ages a running session until now and an ended one until its end', () => {
    const running: Session = { id: 'a', state: 'SESSION_STATE_RUNNING', startedAt: '2026-01-15T11:00:00Z' };
    const ended: Session = { ...running, state: 'SESSION_STATE_ENDED', endedAt: '2026-01-15T11:05:00Z', exitSignal: 'SIGTERM' };
    expect(sessionAge(running, NOW)).toBe('1 h');
    expect(sessionAge(ended, NOW)).toBe('5 min');
    expect(exitLabel(ended)).toBe('SIGTERM');
    expect(exitLabel({ id: 'b', exitCode: 0 })).toBe('exit 0');
    expect(exitLabel({ id: 'c' })).toBe('');
  });

  it('names machines and runner states', () => {
    expect(machineName({ id: 'm1', metadata: { hostname: 'box', displayName: 'Build box' } })).toBe('Build box');
    expect(machineName({ id: 'm1', metadata: { hostname: 'box' } })).toBe('box');
    expect(machineName({ id: 'm1' })).toBe('m1');
    expect(runnerStatusLabel({ status: 'RUNNER_STATUS_SHUTTING_DOWN', shutdownReason: 'hub' })).toBe('shutting down (hub)');
    expect(runnerStatusLabel(undefined)).toBe('unknown');
    const lostAt = new Date(NOW - 3 * 60_000).toISOString();
    expect(runnerStatusLabel({ status: 'RUNNER_STATUS_LOST', pid: 7, lostAt }, NOW)).toBe('lost 3 min ago (its link ended without a shutdown message; it may have crashed)');
  });

  it('orders machines online first, then by name; sessions active first, then newest', () => {
    const machines: Machine[] = [
      { id: '1', metadata: { hostname: 'zeta' }, online: true },
      { id: '2', metadata: { hostname: 'alpha' } },
      { id: '3', metadata: { hostname: 'beta' }, online: true },
    ];
    expect(machines.sort(compareMachines).map((m) => m.id)).toEqual(['3', '1', '2']);
    const sessions: Session[] = [
      { id: 'old-ended', state: 'SESSION_STATE_ENDED', startedAt: '2026-01-01T00:00:00Z' },
      { id: 'new-ended', state: 'SESSION_STATE_ENDED', startedAt: '2026-01-03T00:00:00Z' },
      { id: 'running', state: 'SESSION_STATE_RUNNING', startedAt: '2026-01-02T00:00:00Z' },
      { id: 'starting', state: 'SESSION_STATE_STARTING', startedAt: '2026-01-02T12:00:00Z' },
    ];
    expect(sessions.sort(compareSessions).map((s) => s.id)).toEqual(['starting', 'running', 'new-ended', 'old-ended']);
  });
});
