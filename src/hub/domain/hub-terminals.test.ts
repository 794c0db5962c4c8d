import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ViewerEvent, ViewerMessage } from '../../contract/session-types.js';
import { UnavailableError } from '../../shared/errors.js';
import type { AttachStreamFeed } from './attach-streams.js';
import { createHubCore, type HubCore } from './hub-core.js';
import type { HubStore } from './ports.js';
import { caller, hello, log, memoryStore, reader, recordingSink, settle } from './test-support.js';
import type { RunnerBound } from './types.js';

type OpenAttach = Extract<RunnerBound, { type: 'open-attach' }>;
const output = (offset: number, s: string): ViewerEvent => ({ kind: 'output', offset, data: Buffer.from(s) });
const snapshot = (offset: number): ViewerEvent => ({ kind: 'snapshot', snapshot: { ansi: 'screen', cursor: { x: 0, y: 0 }, cols: 80, rows: 24, offset } });

describe('terminals through the hub (domain)', () => {
  let store: HubStore;
  let core: HubCore;
  beforeEach(async () => {
    store = memoryStore();
    core = await createHubCore({ store, log, aliveTimeoutMs: 45_000, spawnDeadlineMs: 5_000, rpcDeadlineMs: 1_000, viewerBufferBytes: 100, attachResumeMs: 2_000 });
  });
  afterEach(async () => {
    core.close();
    store.close();
  });

  async function runner(machineId = 'm1', namespace = 'default') {
    const sink = recordingSink();
    const link = await core.attachMachine(caller(namespace), hello(machineId, { capabilities: ['attach-stream'] }), sink);
    const welcome = sink.sent[0] as Extract<RunnerBound, { type: 'welcome' }>;
    const opens = () => sink.sent.filter((m): m is OpenAttach => m.type === 'open-attach');
    /** Opens the stream the hub asked for last, as the runner would. */
    const accept = (down: ViewerMessage[] = []) =>
      core.acceptAttachStream(caller(namespace), { machineId, linkId: welcome.linkId, attachId: opens().at(-1)!.attachId }, { send: (m) => void down.push(m), close: () => undefined });
    return { sink, link, welcome, opens, accept };
  }

  async function collect(relay: AsyncIterable<ViewerEvent>, n: number): Promise<ViewerEvent[]> {
    const out: ViewerEvent[] = [];
    for await (const e of relay) {
      out.push(e);
      if (out.length === n) break;
    }
    return out;
  }

  it('knows which sessions are being viewed, until their last viewer leaves', async () => {
    // Awaited: a connect still writing when the test ends would find the store closed.
    await runner();
    expect(core.isSessionViewed('m1', 's1')).toBe(false);
    const a = core.attachSession(caller(), 'm1', 's1', { mode: 'interactive' });
    const b = core.attachSession(caller(), 'm1', 's1', { mode: 'read-only' });
    expect(core.isSessionViewed('m1', 's1')).toBe(true);
    expect(core.isSessionViewed('m1', 's2')).toBe(false);
    a.close();
    a.close();
    expect(core.isSessionViewed('m1', 's1')).toBe(true);
    b.close();
    expect(core.isSessionViewed('m1', 's1')).toBe(false);
  });

  it('binds an attach stream to its link: another link id, another namespace or a replaced link is refused', async () => {
    const r = await runner();
    core.attachSession(caller(), 'm1', 's1', { mode: 'interactive' });
    await settle();
    const open = r.opens()[0]!;
    expect(open).toMatchObject({ sessionId: 's1', hello: { mode: 'interactive' } });
    const sink = { send: () => undefined, close: () => undefined };
    await expect(core.acceptAttachStream(caller(), { machineId: 'm1', linkId: 'not-the-link', attachId: open.attachId }, sink)).rejects.toThrow(/not the live link/);
    await expect(core.acceptAttachStream(caller('other'), { machineId: 'm1', linkId: r.welcome.linkId, attachId: open.attachId }, sink)).rejects.toThrow(/not found/);
    await expect(core.acceptAttachStream(reader(), { machineId: 'm1', linkId: r.welcome.linkId, attachId: open.attachId }, sink)).rejects.toThrow(/read-only/);
    await expect(core.acceptAttachStream(caller(), { machineId: 'm1', linkId: r.welcome.linkId, attachId: 'made-up' }, sink)).rejects.toThrow(/no such attach/);
    // The runner reconnects: the old link's id no longer opens anything.
    const again = await runner();
    await expect(core.acceptAttachStream(caller(), { machineId: 'm1', linkId: r.welcome.linkId, attachId: open.attachId }, sink)).rejects.toThrow(/not the live link/);
    expect(again.welcome.linkId).not.toBe(r.welcome.linkId);
  });

  it('a read-only caller is attached read-only; its input is refused', async () => {
    await runner();
    const relay = core.attachSession(reader(), 'm1', 's1', { mode: 'interactive' });
    await settle();
    expect(() => relay.send({ kind: 'input', data: Buffer.from('x') })).toThrow(/read-only/);
    // Another namespace's machine: the relay ends NotFound, and nothing reaches the runner.
    const theirs = core.attachSession(caller('other'), 'm1', 's1', { mode: 'read-only' });
    await expect(theirs.opened).rejects.toThrow(/not found/);
  });

  it('a viewer past its buffer gets its backlog dropped and a fresh snapshot; the upstream is never paused', async () => {
    const r = await runner();
    const relay = core.attachSession(caller(), 'm1', 's1', { mode: 'interactive', lastOffset: 0 });
    await settle();
    const feed: AttachStreamFeed = await r.accept();
    await relay.opened;
    feed.event(output(0, 'x'.repeat(60)));
    feed.event(output(60, 'y'.repeat(60)));
    // Over 100 bytes waiting: dropped, and the hub asks for a fresh attach without an offset.
    await new Promise((res) => setTimeout(res, 10));
    expect(relay.resyncs).toBe(1);
    expect(r.opens()).toHaveLength(2);
    expect(r.opens()[1]!.hello.lastOffset).toBeUndefined();
    await settle();
    const fresh = await r.accept();
    await new Promise((res) => setTimeout(res, 10));
    fresh.event(output(120, 'late'));
    fresh.event(snapshot(124));
    fresh.event(output(124, 'z'));
    expect(await collect(relay, 2)).toEqual([snapshot(124), output(124, 'z')]);
    relay.close();
  });

  it('resumes through the runner’s next link from the offset the viewer holds, without duplicates', async () => {
    const r = await runner();
    const relay = core.attachSession(caller(), 'm1', 's1', { mode: 'interactive' });
    await settle();
    const down: ViewerMessage[] = [];
    const feed = await r.accept(down);
    await relay.opened;
    feed.event(snapshot(10));
    feed.event(output(10, 'abc'));
    relay.send({ kind: 'input', data: Buffer.from('k') });
    expect(down).toEqual([{ kind: 'input', data: Buffer.from('k') }]);
    r.link.detach('runner died');
    const next = await runner();
    // The relay retries on its own backoff: wait until it asked the new link, however long that takes.
    await vi.waitFor(() => expect(next.opens()).not.toHaveLength(0), { timeout: 10_000, interval: 20 });
    expect(next.opens()[0]!.hello).toEqual({ mode: 'interactive', size: undefined, lastOffset: 13 });
    const feed2 = await next.accept();
    feed2.event(output(12, 'cd'));
    // Contiguous output waiting for the viewer comes as one chunk.
    expect(await collect(relay, 2)).toEqual([snapshot(10), output(10, 'abcd')]);
    relay.close();
  });

  it('while resuming keeps the newest resize (and the input) for the next upstream, resize first', async () => {
    const r = await runner();
    const relay = core.attachSession(caller(), 'm1', 's1', { mode: 'interactive', size: { cols: 48, rows: 43 } });
    await settle();
    await r.accept();
    await relay.opened;
    r.link.detach('runner died');
    relay.send({ kind: 'resize', size: { cols: 48, rows: 40 } });
    relay.send({ kind: 'input', data: Buffer.from('k') });
    relay.send({ kind: 'resize', size: { cols: 48, rows: 43 } });
    const next = await runner();
    // The relay retries on its own backoff: wait until it asked the new link, however long that takes.
    await vi.waitFor(() => expect(next.opens()).not.toHaveLength(0), { timeout: 10_000, interval: 20 });
    const down: ViewerMessage[] = [];
    await next.accept(down);
    await relay.ready();
    expect(down).toEqual([
      { kind: 'resize', size: { cols: 48, rows: 43 } },
      { kind: 'input', data: Buffer.from('k') },
    ]);
    relay.close();
  });

  it('a viewer whose machine does not come back ends UNAVAILABLE', async () => {
    const r = await runner();
    const relay = core.attachSession(caller(), 'm1', 's1', { mode: 'read-only' });
    await settle();
    await r.accept();
    await relay.opened;
    r.link.detach('gone');
    await expect(collect(relay, 1)).rejects.toBeInstanceOf(UnavailableError);
  });

  it('a viewer coming back with an offset while the machine has no link yet (the hub restarted) is held until it has, with its input; one without is refused', async () => {
    const r = await runner();
    r.link.detach('the hub restarted; the runner is not back yet');
    // A fresh attach is refused at once: nothing to resume.
    const fresh = core.attachSession(caller(), 'm1', 's1', { mode: 'interactive' });
    await expect(fresh.opened).rejects.toBeInstanceOf(UnavailableError);
    const relay = core.attachSession(caller(), 'm1', 's1', { mode: 'interactive', size: { cols: 48, rows: 43 }, lastOffset: 20 });
    relay.send({ kind: 'input', data: Buffer.from('typed meanwhile') });
    let ready = false;
    void relay.ready().then(() => (ready = true));
    await new Promise((res) => setTimeout(res, 300));
    expect(ready).toBe(false);
    const next = await runner();
    await vi.waitFor(() => expect(next.opens()).not.toHaveLength(0), { timeout: 10_000, interval: 20 });
    // The first upstream it gets imposes the viewer's size and resumes from its offset.
    expect(next.opens()[0]!.hello).toEqual({ mode: 'interactive', size: { cols: 48, rows: 43 }, lastOffset: 20 });
    const down: ViewerMessage[] = [];
    const feed = await next.accept(down);
    await relay.opened;
    await relay.ready();
    expect(down).toEqual([{ kind: 'input', data: Buffer.from('typed meanwhile') }]);
    feed.event(output(20, 'after'));
    expect(await collect(relay, 1)).toEqual([output(20, 'after')]);
    relay.close();
  });

  it('a viewer coming back with an offset to a machine that never links again ends UNAVAILABLE after the resume time', async () => {
    const r = await runner();
    r.link.detach('gone');
    const relay = core.attachSession(caller(), 'm1', 's1', { mode: 'read-only', lastOffset: 5 });
    await expect(relay.opened).rejects.toBeInstanceOf(UnavailableError);
    await expect(collect(relay, 1)).rejects.toBeInstanceOf(UnavailableError);
  });
});
