import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortedError, DeadlineExceededError } from '../../shared/errors.js';
import type { SessionInfo } from '../../contract/types.js';
import { waitForReport } from './wait-for-report.js';

type Exit = { code: number | null; signal: NodeJS.Signals | null };

const SESSION: SessionInfo = {
  id: 's1',
  pid: 4242,
  startedBy: 'runner',
  directory: '/tmp',
  agent: 'claude',
  startedAt: new Date(0),
  state: 'running',
};

/** A launched process whose exit, report and log the test controls. */
function fixture(logPath: string) {
  let exit!: (e: Exit) => void;
  let report!: (s: SessionInfo) => void;
  let refuse!: (err: Error) => void;
  const exited = new Promise<Exit>((r) => (exit = r));
  const reported = new Promise<SessionInfo>((res, rej) => {
    report = res;
    refuse = rej;
  });
  const kill = vi.fn(async () => 'stopped');
  const wait = waitForReport({ sessionId: 's1', launched: { exited, logPath }, reported, timeoutMs: 1_000, kill });
  return { exit, report, refuse, kill, wait };
}

describe('waitForReport', () => {
  let dir = '';
  beforeEach(() => {
    vi.useFakeTimers();
    dir = mkdtempSync(join(tmpdir(), 'hapi-wait-report-'));
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves with the reported session and leaves no timer behind', async () => {
    const f = fixture(join(dir, 'none.log'));
    f.report(SESSION);
    await expect(f.wait).resolves.toEqual(SESSION);
    expect(vi.getTimerCount()).toBe(0);
    expect(f.kill).not.toHaveBeenCalled();
  });

  it('on timeout, kills first, then fails with DeadlineExceeded quoting the log tail', async () => {
    const log = join(dir, 's1.log');
    writeFileSync(log, 'starting\nstuck here\n');
    const f = fixture(log);
    const failed = f.wait.then(
      () => undefined,
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(f.kill).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    const err = await failed;
    expect(f.kill).toHaveBeenCalledTimes(1);
    expect(err).toBeInstanceOf(DeadlineExceededError);
    expect((err as Error).message).toBe('session s1 did not report within 1000 ms; stderr tail: starting\nstuck here');
  });

  it('an exit before the report fails with Aborted, its code or signal and the log tail', async () => {
    const f = fixture(join(dir, 'none.log'));
    f.exit({ code: null, signal: 'SIGSEGV' });
    const err = await f.wait.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as Error).message).toBe('session s1 was killed by SIGSEGV before reporting; last output:\n(empty)');
    expect((err as AbortedError).details).toMatchObject({ sessionId: 's1', exitSignal: 'SIGSEGV' });
    expect(f.kill).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);

    const g = fixture(join(dir, 'none.log'));
    g.exit({ code: 3, signal: null });
    await expect(g.wait).rejects.toThrow('session s1 exited with code 3 before reporting');
  });

  it('a given-up spawn (shutdown) fails with the reason it was given', async () => {
    const f = fixture(join(dir, 'none.log'));
    f.refuse(new Error('the runner is shutting down'));
    await expect(f.wait).rejects.toThrow('the runner is shutting down');
    expect(vi.getTimerCount()).toBe(0);
  });
});
