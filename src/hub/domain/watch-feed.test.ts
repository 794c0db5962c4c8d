import { describe, expect, it } from 'vitest';
import { QueueOverflowError } from '../../shared/async-queue.js';
import { NotFoundError } from '../../shared/errors.js';
import type { HubEvent, HubSession, MachineRecord } from './types.js';
import { createWatchFeed } from './watch-feed.js';
import { hello, session } from './test-support.js';

const m = (id: string): HubEvent => {
  const h = hello(id);
  const machine: MachineRecord = { id, namespace: 'default', metadata: h.metadata, metadataVersion: 1, runnerState: h.runnerState, runnerStateVersion: 1, online: true };
  return { type: 'machine', machine };
};
const s = (machineId: string, id: string): HubEvent => {
  const hs: HubSession = { ...session(id), machineId, namespace: 'default' };
  return { type: 'session', session: hs };
};

/** Takes what the iterator has buffered, without waiting for more. */
async function take(it: AsyncIterator<HubEvent>, n: number): Promise<HubEvent[]> {
  const out: HubEvent[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value as HubEvent);
  return out;
}

describe('watch feed', () => {
  it('delivers the snapshot first, then live changes the filter and namespace ask for', async () => {
    const feed = createWatchFeed();
    const ac = new AbortController();
    const it = feed.watch('default', { sessions: true, machineId: 'm1' }, async () => [s('m1', 'old')], ac.signal)[Symbol.asyncIterator]();
    feed.publish('default', m('m1'));
    feed.publish('default', s('m2', 'other-machine'));
    feed.publish('team', s('m1', 'other-namespace'));
    feed.publish('default', s('m1', 'new'));
    expect(await take(it, 2)).toEqual([s('m1', 'old'), s('m1', 'new')]);
    expect(feed.size).toBe(1);
    ac.abort();
    expect(await it.next()).toMatchObject({ done: true });
    expect(feed.size).toBe(0);
  });

  it('a machines-only watcher sees machines of its namespace only', async () => {
    const feed = createWatchFeed();
    const ac = new AbortController();
    const it = feed.watch('default', { machines: true }, async () => [], ac.signal)[Symbol.asyncIterator]();
    feed.publish('default', s('m1', 'x'));
    feed.publish('team', m('theirs'));
    feed.publish('default', m('m1'));
    expect(await take(it, 1)).toEqual([m('m1')]);
    ac.abort();
  });

  it('a snapshot that fails ends the watch with its error and leaves nothing registered', async () => {
    const feed = createWatchFeed();
    const it = feed.watch('default', { sessions: true }, async () => {
      throw new NotFoundError('machine x not found');
    })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(NotFoundError);
    expect(feed.size).toBe(0);
  });

  it('changes published while the snapshot is read come after it, none lost', async () => {
    const feed = createWatchFeed();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const it = feed.watch('default', { machines: true }, async () => {
      await gate;
      return [m('a')];
    })[Symbol.asyncIterator]();
    const first = it.next();
    feed.publish('default', m('b'));
    release();
    feed.publish('default', m('c'));
    expect(await first).toEqual({ done: false, value: m('a') });
    expect(await take(it, 2)).toEqual([m('b'), m('c')]);
  });

  it('close ends every watcher after what it buffered, and later watches end at once', async () => {
    const feed = createWatchFeed();
    const it = feed.watch('default', { machines: true }, async () => [m('a')])[Symbol.asyncIterator]();
    feed.close();
    expect(await it.next()).toEqual({ done: false, value: m('a') });
    expect(await it.next()).toMatchObject({ done: true });
    let snapshots = 0;
    const late = feed.watch('default', { machines: true }, async () => (snapshots++, [m('b')]))[Symbol.asyncIterator]();
    expect(await late.next()).toMatchObject({ done: true });
    expect(snapshots).toBe(0);
    expect(feed.size).toBe(0);
  });

  it('fails a watcher that falls behind the limit instead of buffering without end', async () => {
    const feed = createWatchFeed({ limit: 2 });
    const it = feed.watch('default', { machines: true }, async () => [])[Symbol.asyncIterator]();
    for (const id of ['a', 'b', 'c']) feed.publish('default', m(id));
    await expect(it.next()).rejects.toBeInstanceOf(QueueOverflowError);
    expect(feed.size).toBe(0);
  });
});
