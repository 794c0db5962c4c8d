import { afterEach, describe, expect, it, vi } from 'vitest';
import { log, memoryStore, T0 } from '../domain/test-support.js';
import type { ClusterStore, PeerDialer } from './cluster-ports.js';
import { createHubCluster, HEARTBEAT_MS, MISSED_HEARTBEATS } from './hub-cluster.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('hub cluster heartbeat', () => {
  it('keeps beating while reaping a dead replica\'s machines is slow, so this replica is never taken for dead', async () => {
    vi.useFakeTimers({ now: T0 });
    let beats = 0;
    let reaps = 0;
    // Marking a dead replica's thousands of machines offline takes far longer than the dead-after window.
    const stuck = new Promise<never>(() => undefined);
    const store: ClusterStore = {
      heartbeat: async () => void beats++,
      removeReplica: async () => undefined,
      replicas: async () => [],
      forgetReplicas: async () => 0,
      ownerOf: async () => undefined,
      orphanedMachines: () => (reaps++, stuck),
    };
    const dialer = { close: () => undefined } as unknown as PeerDialer;
    const onLapsed = vi.fn();
    const cluster = createHubCluster({
      store, machines: memoryStore(), dialer, replicaId: 'r1', peerAddr: '127.0.0.1:1', version: 'test',
      machineChanged: () => undefined, onLapsed, log, now: () => new Date(),
    });
    await cluster.start();
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS * MISSED_HEARTBEATS * 4);
    // A beat at start and one per interval, though the first reaping never ended (and none stacked up).
    expect(beats).toBeGreaterThanOrEqual(MISSED_HEARTBEATS * 4);
    expect(reaps).toBe(1);
    expect(onLapsed).not.toHaveBeenCalled();
  });
});
