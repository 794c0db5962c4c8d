/**
 * Fixtures for the domain's unit tests: an in-memory SQLite store, a sink that records what
 * the hub sends down a runner stream, and a runner's hello.
 */
import type { HapiError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/logger.js';
import type { SessionInfo } from '../../contract/types.js';
import { openHubStore } from '../store/sqlite/sqlite-store.js';
import type { HubStore } from './ports.js';
import type { Caller, HelloInfo, HubEvent, RunnerBound, RunnerSink } from './types.js';

export const log = silentLogger();
export const T0 = new Date('2025-01-02T03:04:05.000Z');
export const owner: Caller = { namespace: 'default', owner: true, tokenId: 'tok_owner', scope: 'full' };
export const caller = (namespace = 'default'): Caller => ({ namespace, owner: false, tokenId: `tok_${namespace}`, scope: 'full' });
/** A read-only token's caller. */
export const reader = (namespace = 'default'): Caller => ({ namespace, owner: false, tokenId: `tok_ro_${namespace}`, scope: 'read-only' });

export function memoryStore(): HubStore {
  return openHubStore(':memory:');
}

export interface RecordingSink extends RunnerSink {
  sent: RunnerBound[];
  closedWith?: HapiError;
}

export function recordingSink(): RecordingSink {
  const sink: RecordingSink = {
    sent: [],
    send: (m) => void sink.sent.push(m),
    close: (err) => void (sink.closedWith ??= err),
  };
  return sink;
}

export function session(id: string, o: Partial<SessionInfo> = {}): SessionInfo {
  return { id, pid: 100, startedBy: 'runner', directory: '/work', agent: 'claude', startedAt: T0, state: 'running', ...o };
}

export function hello(machineId: string, o: Partial<HelloInfo> = {}): HelloInfo {
  return {
    machineId,
    metadata: { hostname: 'h', platform: 'linux', arch: 'x64', cliVersion: '1.0.0', displayName: machineId, homeDir: '/home/u', agents: ['claude'] },
    runnerState: { status: 'running', pid: 42, startedAt: T0, shutdownReason: '', lastSpawnError: '', httpPort: 0 },
    protocolVersion: 1,
    capabilities: [],
    sessions: [],
    installFingerprint: '',
    ...o,
  };
}

/** Collects published events. */
export function recorder() {
  const events: { namespace: string; event: HubEvent }[] = [];
  return { events, publish: (namespace: string, event: HubEvent) => void events.push({ namespace, event }) };
}

/**
 * Lets work that is already under way finish: the SQLite store answers with resolved promises,
 * so a few turns of the microtask queue complete a chain of store calls (no timer involved, so
 * it works under fake timers too).
 */
export async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}
