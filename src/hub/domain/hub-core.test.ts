import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NotFoundError, PermissionDeniedError, UnavailableError } from '../../shared/errors.js';
import { createHubCore, type HubCore } from './hub-core.js';
import type { HubStore } from './ports.js';
import { caller, hello, log, memoryStore, reader, recordingSink, session, settle, T0 } from './test-support.js';
import type { HubEvent, RunnerBound } from './types.js';

describe('hub core facade', () => {
  let store: HubStore;
  let core: HubCore;
  beforeEach(async () => {
    vi.useFakeTimers({ now: T0 });
    store = memoryStore();
    core = await createHubCore({ store, log, aliveTimeoutMs: 45_000, spawnDeadlineMs: 5_000, rpcDeadlineMs: 1_000 });
  });
  afterEach(async () => {
    core.close();
    store.close();
    vi.useRealTimers();
  });

  const rpcOf = (sent: RunnerBound[]) => sent.filter((m) => m.type === 'rpc').at(-1) as Extract<RunnerBound, { type: 'rpc' }>;

  it('welcomes a runner with the versions and the alive interval, and reconciles its sessions', async () => {
    const sink = recordingSink();
    await core.attachMachine(caller(), hello('m1', { sessions: [session('s1')] }), sink);
    expect(sink.sent[0]).toEqual({ type: 'welcome', namespace: 'default', metadataVersion: 1, runnerStateVersion: 1, aliveIntervalMs: 20_000, protocolVersion: 1, linkId: expect.any(String) });
    expect((await core.listSessions(caller(), { machineId: 'm1' })).map((s) => s.id)).toEqual(['s1']);
    await expect(core.attachMachine(caller(), hello('m2', { protocolVersion: 99 }), recordingSink())).rejects.toThrow(/protocol version/);
  });

  it('sends the welcome first: a call relayed while the hello is still being recorded follows it', async () => {
    // The store is slow to record the hello's sessions (a busy PostgreSQL): the stream is the
    // machine's meanwhile, so a call finds it; the runner takes anything before the welcome for
    // a broken hello and drops the stream (a rolling restart saw "disconnected before answering").
    let release!: () => void;
    const recorded = new Promise<void>((r) => (release = r));
    const liveSessionsOf = store.liveSessionsOf.bind(store);
    store.liveSessionsOf = async (machineId) => (await recorded, liveSessionsOf(machineId));
    const sink = recordingSink();
    const attached = core.attachMachine(caller(), hello('m1'), sink);
    await settle();
    const status = core.getRunnerStatus(caller(), 'm1');
    await settle();
    expect(sink.sent).toEqual([]);
    release();
    const link = await attached;
    expect(sink.sent.map((m) => m.type)).toEqual(['welcome', 'rpc']);
    link.rpcResult(rpcOf(sink.sent).requestId, { method: 'status', report: { pid: 42, cliVersion: '1', sessionCount: 0, startedAt: T0 } });
    expect((await status).pid).toBe(42);
  });

  it('answers both versioned updates on the stream: applied, or the current value for a stale version', async () => {
    const sink = recordingSink();
    const link = await core.attachMachine(caller(), hello('m1'), sink);
    const h = hello('m1');
    await link.updateMetadata(1, { ...h.metadata, displayName: 'renamed' });
    await link.updateMetadata(1, { ...h.metadata, displayName: 'stale' });
    await link.updateRunnerState(1, { ...h.runnerState, lastSpawnError: 'x' });
    expect(sink.sent.slice(1)).toEqual([
      { type: 'update-result', kind: 'metadata', outcome: { applied: true, version: 2 } },
      { type: 'update-result', kind: 'metadata', outcome: { applied: false, currentVersion: 2, current: { ...h.metadata, displayName: 'renamed' } } },
      { type: 'update-result', kind: 'runner-state', outcome: { applied: true, version: 2 } },
    ]);
    link.detach('gone');
    await link.updateMetadata(2, h.metadata);
    expect(sink.sent).toHaveLength(4);
  });

  it('relays a spawn to the machine and records the session it started', async () => {
    const sink = recordingSink();
    const link = await core.attachMachine(caller(), hello('m1'), sink);
    const spawned = core.spawnSession(caller(), 'm1', { directory: '/w', approveCreateDirectory: false, agentArgs: [] });
    await settle();
    const rpc = rpcOf(sink.sent);
    expect(rpc.call).toEqual({ method: 'spawn', spec: { directory: '/w', approveCreateDirectory: false, agentArgs: [] } });
    expect(rpc.deadline).toEqual(new Date(T0.getTime() + 5_000));
    link.rpcResult(rpc.requestId, { method: 'spawn', outcome: { kind: 'session', session: session('s9') } });
    expect((await spawned).session).toMatchObject({ id: 's9', machineId: 'm1', namespace: 'default' });
    expect((await core.listSessions(caller(), {})).map((s) => s.id)).toEqual(['s9']);
  });

  it('draining answers the calls already on a stream before telling its runner to leave, and refuses new ones unsent', async () => {
    const sink = recordingSink();
    const link = await core.attachMachine(caller(), hello('m1'), sink);
    const status = core.getRunnerStatus(caller(), 'm1');
    await settle();
    const rpc = rpcOf(sink.sent);
    const drained = core.drain('test', 5_000);
    await vi.advanceTimersByTimeAsync(200);
    // The status call is still in flight: no Drain yet (the runner would drop its answer).
    expect(sink.sent.some((m) => m.type === 'drain')).toBe(false);
    const before = sink.sent.length;
    await expect(core.spawnSession(caller(), 'm1', { directory: '/w', approveCreateDirectory: false, agentArgs: [] })).rejects.toThrow(/shutting down.*not sent/);
    expect(sink.sent.length).toBe(before);
    link.rpcResult(rpc.requestId, { method: 'status', report: { pid: 42, cliVersion: '1', sessionCount: 0, startedAt: T0 } });
    expect((await status).pid).toBe(42);
    await vi.advanceTimersByTimeAsync(100);
    expect(sink.sent.filter((m) => m.type === 'drain')).toEqual([{ type: 'drain', reason: 'test' }]);
    link.detach('drained');
    await vi.advanceTimersByTimeAsync(100);
    await drained;
  });

  it('fails fast for an offline machine, and hides another namespace\'s machines', async () => {
    const link = await core.attachMachine(caller(), hello('m1'), recordingSink());
    await expect(core.stopRunner(caller('team'), 'm1')).rejects.toBeInstanceOf(NotFoundError);
    await expect(core.getMachine(caller('team'), 'm1')).rejects.toThrow(NotFoundError);
    link.detach('gone');
    await expect(core.getRunnerStatus(caller(), 'm1')).rejects.toBeInstanceOf(UnavailableError);
  });

  it('watch sends the snapshot, then changes; close ends watchers and streams', async () => {
    await core.attachMachine(caller(), hello('m1'), recordingSink());
    const it = core.watch(caller(), { machines: true, sessions: true })[Symbol.asyncIterator]();
    const sink = recordingSink();
    const link = await core.attachMachine(caller(), hello('m2'), sink);
    await link.sessionEvent('started', session('s1'));
    const seen: HubEvent[] = [];
    for (let i = 0; i < 3; i++) seen.push((await it.next()).value as HubEvent);
    expect(seen.map((e) => (e.type === 'machine' ? `machine ${e.machine.id}` : `session ${e.session.id}`))).toEqual(['machine m1', 'machine m2', 'session s1']);
    expect(core.stats()).toEqual({
      connections: 2, machinesOnline: 2, attachStreams: 0, watchers: 1, pendingRpcs: 0, viewers: 0,
      connects: { active: 0, waiting: 0, admitted: 2, refused: 0 },
    });
    core.close();
    expect(await it.next()).toMatchObject({ done: true });
    expect(sink.closedWith).toBeInstanceOf(UnavailableError);
    expect(core.stats()).toMatchObject({ connections: 0, machinesOnline: 0, attachStreams: 0, watchers: 0, pendingRpcs: 0, viewers: 0 });
  });

  it('a read-only caller lists, watches and asks for status; every write is PERMISSION_DENIED before anything reaches the runner', async () => {
    const sink = recordingSink();
    const link = await core.attachMachine(caller(), hello('m1', { sessions: [session('s1')] }), sink);
    expect((await core.listMachines(reader())).map((m) => m.id)).toEqual(['m1']);
    expect((await core.getMachine(reader(), 'm1')).id).toBe('m1');
    expect((await core.listSessions(reader(), { machineId: 'm1' })).map((s) => s.id)).toEqual(['s1']);
    const it = core.watch(reader(), { machines: true })[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'machine', machine: { id: 'm1' } });
    const status = core.getRunnerStatus(reader(), 'm1');
    await settle();
    const rpc = rpcOf(sink.sent);
    expect(rpc.call).toEqual({ method: 'status' });
    link.rpcResult(rpc.requestId, { method: 'status', report: { pid: 42, cliVersion: '1', sessionCount: 1, startedAt: T0 } });
    expect((await status).pid).toBe(42);

    const before = sink.sent.length;
    await expect(core.spawnSession(reader(), 'm1', { directory: '/w', approveCreateDirectory: false, agentArgs: [] })).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(core.stopSession(reader(), 'm1', 's1')).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(core.stopRunner(reader(), 'm1')).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(core.attachMachine(reader(), hello('m2'), recordingSink())).rejects.toThrow(PermissionDeniedError);
    expect(sink.sent.length).toBe(before);
    expect((await core.listMachines(caller())).map((m) => m.id)).toEqual(['m1']);
    // Namespaces still isolate a read-only caller.
    expect(await core.listMachines(reader('team'))).toEqual([]);
    await expect(core.getMachine(reader('team'), 'm1')).rejects.toThrow(NotFoundError);
  });
});
