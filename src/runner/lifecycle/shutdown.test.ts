import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ShutdownReason } from '../runner-control.js';
import { createShutdown, exitCodeFor, type ShutdownStep } from './shutdown.js';

const log = pino({ level: 'silent' });

function recorder(names: string[], opts: { failing?: string; sharedFiles?: string[] } = {}) {
  const ran: string[] = [];
  const steps = (): ShutdownStep[] =>
    names.map((name) => ({
      name,
      sharedFile: opts.sharedFiles?.includes(name),
      run: async (reason: ShutdownReason) => {
        await Promise.resolve();
        ran.push(`${name}:${reason}`);
        if (name === opts.failing) throw new Error(`${name} failed`);
      },
    }));
  return { ran, steps };
}

describe('runner shutdown', () => {
  it('runs the steps one after the other, in the given order, and resolves with the exit code', async () => {
    const r = recorder(['heartbeat', 'hub link', 'grpc', 'sessions', 'state file', 'lock']);
    const s = createShutdown({ steps: r.steps, log });
    expect(s.reason()).toBeUndefined();
    expect(await s.request('cli')).toBe(0);
    expect(r.ran).toEqual(['heartbeat:cli', 'hub link:cli', 'grpc:cli', 'sessions:cli', 'state file:cli', 'lock:cli']);
  });

  it('the first reason wins; later requests join the shutdown under way', async () => {
    const r = recorder(['a', 'b']);
    const s = createShutdown({ steps: r.steps, log });
    const first = s.request('exception');
    const second = s.request('os-signal');
    expect(s.reason()).toBe('exception');
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    expect(await s.done).toBe(1);
    expect(r.ran).toEqual(['a:exception', 'b:exception']);
  });

  it('a failing step does not stop the later ones (the files are removed whatever failed)', async () => {
    const r = recorder(['hub link', 'grpc', 'state file', 'lock'], { failing: 'grpc' });
    const s = createShutdown({ steps: r.steps, log });
    expect(await s.request('hub')).toBe(0);
    expect(r.ran).toEqual(['hub link:hub', 'grpc:hub', 'state file:hub', 'lock:hub']);
  });

  it('a superseded runner keeps the files that now belong to the runner that took over', async () => {
    const r = recorder(['hub link', 'sessions', 'state file', 'socket', 'lock'], { sharedFiles: ['state file', 'socket', 'lock'] });
    const s = createShutdown({ steps: r.steps, log });
    expect(await s.request('superseded')).toBe(0);
    expect(r.ran).toEqual(['hub link:superseded', 'sessions:superseded']);
  });

  it('waits for `before` (a start step in flight) before the first step', async () => {
    const r = recorder(['a']);
    let release!: () => void;
    const startStep = new Promise<void>((resolve) => (release = resolve));
    const s = createShutdown({ steps: r.steps, log, before: () => startStep });
    const done = s.request('os-signal');
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.ran).toEqual([]);
    release();
    expect(await done).toBe(0);
    expect(r.ran).toEqual(['a:os-signal']);
  });

  it('maps every reason to its exit code', () => {
    const codes = Object.fromEntries(
      (['os-signal', 'cli', 'hub', 'handoff', 'superseded', 'exception', 'startup-failure'] as const).map((r) => [r, exitCodeFor(r)]),
    );
    expect(codes).toEqual({ 'os-signal': 0, cli: 0, hub: 0, handoff: 0, superseded: 0, exception: 1, 'startup-failure': 1 });
  });
});
