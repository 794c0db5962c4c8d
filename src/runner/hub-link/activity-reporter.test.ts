import { describe, expect, it } from 'vitest';
import type { SessionActivityInfo } from '../../contract/types.js';
import { silentLogger } from '../../shared/logger.js';
import { createActivityReporter } from './activity-reporter.js';

const entry = (sessionId: string): SessionActivityInfo => ({ sessionId, lastOutputAt: new Date(0), lastLine: 'x' });

describe('activity reporter', () => {
  it('runs one look at a time and folds a fresh report asked for meanwhile into one follow-up', async () => {
    const asked: boolean[] = [];
    const sent: SessionActivityInfo[][] = [];
    let release!: () => void;
    const firstDone = new Promise<void>((r) => (release = r));
    const reporter = createActivityReporter({
      source: async (fresh) => {
        asked.push(fresh);
        if (asked.length === 1) await firstDone;
        return [entry(`s${asked.length}`)];
      },
      send: (entries) => sent.push(entries),
      canSend: () => true,
      log: silentLogger(),
    });
    const first = reporter.report(false);
    await reporter.report(false);
    await reporter.report(true);
    release();
    await first;
    expect(asked).toEqual([false, true]);
    expect(sent.map((e) => e[0]!.sessionId)).toEqual(['s1', 's2']);
  });

  it('sends nothing while the link cannot send, and survives a failing look', async () => {
    const sent: SessionActivityInfo[][] = [];
    let fail = true;
    const reporter = createActivityReporter({
      source: async () => {
        if (fail) throw new Error('socket gone');
        return [entry('a')];
      },
      send: (entries) => sent.push(entries),
      canSend: () => false,
      log: silentLogger(),
    });
    await reporter.report(true);
    fail = false;
    await reporter.report(true);
    expect(sent).toEqual([]);
  });

  it('never drops a report for sessions whose activity changed while a look runs: they are looked at next', async () => {
    const asked: (string[] | undefined)[] = [];
    let release!: () => void;
    const firstDone = new Promise<void>((r) => (release = r));
    const reporter = createActivityReporter({
      source: async (_fresh, only) => {
        asked.push(only);
        if (asked.length === 1) await firstDone;
        return [];
      },
      send: () => undefined,
      canSend: () => true,
      log: silentLogger(),
    });
    const first = reporter.report(false);
    await reporter.report(false, ['a']);
    await reporter.report(false, ['b']);
    release();
    await first;
    expect(asked).toEqual([undefined, ['a', 'b']]);
  });
});
