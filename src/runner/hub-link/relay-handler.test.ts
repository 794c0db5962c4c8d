import { describe, expect, it } from 'vitest';
import { Status } from 'nice-grpc';
import type { RpcRequest } from '../../contract/machine-link.js';
import type { SessionInfo } from '../../contract/types.js';
import { NotFoundError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/logger.js';
import type { RunnerControl, RunnerStatus, ShutdownReason } from '../runner-control.js';
import type { HubLinkClock } from './clock.js';
import { createRelayHandler, DEFAULT_RELAY_DEADLINE_MS } from './relay-handler.js';

const NOW = 1_000_000;
const session: SessionInfo = { id: 's-1', pid: 42, startedBy: 'runner', directory: '/w', agent: 'claude', startedAt: new Date(0), state: 'running' };

/** A clock whose sleeps only end when the test says so. */
function manualClock() {
  const sleeps: { ms: number; wake: () => void }[] = [];
  const clock: HubLinkClock = {
    now: () => NOW,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        sleeps.push({ ms, wake: resolve });
        signal.addEventListener('abort', () => resolve(), { once: true });
      }),
  };
  return { clock, sleeps };
}

function fakeControl(overrides: Partial<RunnerControl> = {}) {
  const stops: ShutdownReason[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const control: RunnerControl = {
    status: () => ({ pid: 7, cliVersion: '1.2.3', sessionCount: 2, startedAt: new Date(5) }) as RunnerStatus,
    listSessions: async () => [session],
    spawnSession: async (spec, signal) => {
      signals.push(signal);
      return { kind: 'session', session: { ...session, directory: spec.directory } };
    },
    stopSession: async (target) => {
      if ('sessionId' in target && target.sessionId === 'ghost') throw new NotFoundError('session ghost not found');
      return { result: 'stopped', sessionId: 's-1' };
    },
    sessionStarted: async () => session,
    sessionEnded: async () => undefined,
    watchSessions: async () => ({ sessions: [], unsubscribe: () => undefined }),
    listSessionTerminals: async () => ({ sessions: [session], terminals: new Map() }),
    sessionActivityChanged: () => undefined,
    decideApproval: async () => {
      throw new NotFoundError('no request');
    },
    attachSession: async () => (async function* () {})(),
    attachSessionEncoded: async () => (async function* () {})(),
    getSessionScreen: async () => ({ ended: false }),
    sendSessionInput: async () => undefined,
    stopRunner: (reason) => {
      stops.push(reason);
      return 7;
    },
    ...overrides,
  };
  return { control, stops, signals };
}

const spec = { directory: '/w', agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [], prompt: '' };
const deadline = new Date(NOW + 5_000);
/** `null`: no deadline at all. */
const req = (method: RpcRequest['method'], d: Date | null = deadline): RpcRequest => ({ requestId: 'r-1', deadline: d ?? undefined, method });

describe('hub link relay handler', () => {
  it('runs a relayed spawn through RunnerControl and answers with its outcome', async () => {
    const { control, signals } = fakeControl();
    const relay = createRelayHandler({ control, log: silentLogger(), clock: manualClock().clock });
    const res = await relay.handle(req({ $case: 'spawnSession', value: spec }));
    expect(res.requestId).toBe('r-1');
    expect(res.result).toMatchObject({ $case: 'spawnSession', value: { result: { $case: 'session', value: { id: 's-1', directory: '/w' } } } });
    // The call got a signal, so a wait for readiness ends with the deadline.
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[0]!.aborted).toBe(true);
  });

  it('answers status from RunnerControl.status()', async () => {
    const relay = createRelayHandler({ control: fakeControl().control, log: silentLogger(), clock: manualClock().clock });
    const res = await relay.handle(req({ $case: 'getStatus', value: {} }));
    expect(res.result).toEqual({ $case: 'getStatus', value: { pid: 7, cliVersion: '1.2.3', sessionCount: 2, startedAt: new Date(5) } });
  });

  it('accepts stop-runner first and asks RunnerControl to stop right after', async () => {
    const { control, stops } = fakeControl();
    const relay = createRelayHandler({ control, log: silentLogger(), clock: manualClock().clock });
    const res = await relay.handle(req({ $case: 'stopRunner', value: {} }));
    expect(res.result).toEqual({ $case: 'stopRunner', value: true });
    expect(stops).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(stops).toEqual(['hub']);
  });

  it('maps typed errors to their status code and hides unexpected ones', async () => {
    const boom = fakeControl({
      spawnSession: async () => {
        throw new Error('disk on fire');
      },
    }).control;
    const relay = createRelayHandler({ control: boom, log: silentLogger(), clock: manualClock().clock });
    expect((await relay.handle(req({ $case: 'stopSession', value: { sessionId: 'ghost' } }))).result).toEqual({
      $case: 'error',
      value: { code: Status.NOT_FOUND, message: 'session ghost not found' },
    });
    expect((await relay.handle(req({ $case: 'spawnSession', value: spec }))).result).toEqual({
      $case: 'error',
      value: { code: Status.INTERNAL, message: 'internal error' },
    });
    expect((await relay.handle(req(undefined))).result).toMatchObject({ $case: 'error', value: { code: Status.INVALID_ARGUMENT } });
  });

  it('answers DEADLINE_EXCEEDED when the hub’s deadline passes first, or has already passed', async () => {
    const { clock, sleeps } = manualClock();
    const relay = createRelayHandler({ control: fakeControl({ spawnSession: () => new Promise(() => undefined) }).control, log: silentLogger(), clock });
    const pending = relay.handle(req({ $case: 'spawnSession', value: spec }));
    await new Promise((r) => setImmediate(r));
    expect(sleeps.map((s) => s.ms)).toEqual([5_000]);
    sleeps[0]!.wake();
    expect((await pending).result).toMatchObject({ $case: 'error', value: { code: Status.DEADLINE_EXCEEDED } });

    const late = await relay.handle(req({ $case: 'spawnSession', value: spec }, new Date(NOW - 1)));
    expect(late.result).toMatchObject({ $case: 'error', value: { code: Status.DEADLINE_EXCEEDED } });
  });

  it('gives a call without a deadline the default one', async () => {
    const { clock, sleeps } = manualClock();
    const relay = createRelayHandler({ control: fakeControl().control, log: silentLogger(), clock });
    await relay.handle(req({ $case: 'getStatus', value: {} }, null));
    expect(sleeps.map((s) => s.ms)).toEqual([DEFAULT_RELAY_DEADLINE_MS]);
  });
});
