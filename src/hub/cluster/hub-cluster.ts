/**
 * This hub as one replica of several on one PostgreSQL database (README, "Several hub
 * replicas"). It registers itself (id, peer address, version) and heartbeats every 5 s; a
 * replica silent for three heartbeats is dead. Each tick it also takes over what dead replicas
 * leave behind: their online machines are marked offline (checked against the owner epoch under
 * the row's lock, so two replicas reaping at once, or a runner reconnecting meanwhile, change
 * nothing twice) until their runners reconnect to a live replica, which claims them with the next
 * epoch. A call for a machine whose stream another live replica holds is forwarded to it.
 */
import type { Logger } from 'pino';
import { isHapiError } from '../../shared/errors.js';
import type { RelayCall, RelayResult } from '../../contract/types.js';
import type { MachineStore, MachineOwnershipStore, UnitOfWork } from '../domain/ports.js';
import type { MachineRecord } from '../domain/types.js';
import { lostRunnerState } from '../domain/versioned.js';
import type { ClusterStore, PeerDialer, ReplicaRecord } from './cluster-ports.js';
import type { AttachHello } from '../../contract/session-types.js';
import type { Upstream, UpstreamHandlers } from '../domain/attach-streams.js';

/** How often a replica heartbeats. */
export const HEARTBEAT_MS = 5_000;
/** Missed heartbeats after which a replica is dead. */
export const MISSED_HEARTBEATS = 3;
/** Rows of replicas silent this long are deleted (a day: long enough to read in an incident). */
const FORGET_AFTER_MS = 24 * 3600_000;

export interface HubClusterOptions {
  store: ClusterStore;
  machines: MachineStore & MachineOwnershipStore & UnitOfWork;
  dialer: PeerDialer;
  replicaId: string;
  /** The address the other replicas dial (HAPI_HUB_PEER_ADVERTISE, or where it listens). */
  peerAddr: string;
  version: string;
  /** A machine was marked offline here (its replica died): tell this replica's watchers. */
  machineChanged(m: MachineRecord): void;
  /**
   * This replica's own heartbeat lapsed (the database was out of reach for longer than the
   * dead-after window): the others may have reaped its machines, so it gives up every stream it
   * holds; the runners reconnect and are claimed again.
   */
  onLapsed(): void;
  log: Logger;
  heartbeatMs?: number;
  now?: () => Date;
}

export interface HubCluster {
  readonly replicaId: string;
  readonly deadAfterMs: number;
  /** Registers (the first heartbeat: rejects when the database cannot take it) and starts the heartbeat. */
  start(): Promise<void>;
  /**
   * Forwards the call to the live replica that owns the machine; undefined when none does
   * (offline, or this replica is the recorded owner): the caller answers as a single hub would.
   */
  forward(namespace: string, machineId: string, call: RelayCall, deadlineMs: number, signal?: AbortSignal): Promise<RelayResult | undefined>;
  /** A viewer's upstream through the live replica owning the machine; undefined when none does. */
  openUpstream(namespace: string, machineId: string, sessionId: string, hello: AttachHello, handlers: UpstreamHandlers, signal: AbortSignal): Promise<Upstream | undefined>;
  replicas(): Promise<ReplicaRecord[]>;
  /** Stops the heartbeat and removes this replica's row. */
  close(): Promise<void>;
}

export function createHubCluster(opts: HubClusterOptions): HubCluster {
  const { store, machines, dialer, replicaId } = opts;
  const log = opts.log.child({ c: 'cluster', replicaId });
  const now = opts.now ?? (() => new Date());
  const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
  const deadAfterMs = heartbeatMs * MISSED_HEARTBEATS;
  const startedAt = now();
  let timer: NodeJS.Timeout | undefined;
  let lastBeat = 0;
  let beating: Promise<void> | undefined;
  let reaping: Promise<void> | undefined;
  let closed = false;

  async function beat(): Promise<void> {
    await store.heartbeat({ id: replicaId, peerAddr: opts.peerAddr, version: opts.version, startedAt });
    const t = now().getTime();
    if (lastBeat > 0 && t - lastBeat > deadAfterMs) {
      log.warn({ silentMs: t - lastBeat }, 'this replica missed its heartbeats: giving up its runner streams so their runners reconnect and are claimed again');
      opts.onLapsed();
    }
    lastBeat = t;
  }

  /** Marks one orphan offline if its owner and epoch are still the ones seen. */
  function reap(machineId: string, epoch: number): Promise<MachineRecord | undefined> {
    return machines.transaction(async (tx) => {
      const owner = await tx.machineOwner(machineId);
      if (!owner || owner.epoch !== epoch) return undefined;
      const m = await tx.getMachine(machineId);
      if (!m?.online) return undefined;
      const at = now();
      m.online = false;
      m.onlineSince = at;
      const state = lostRunnerState(m.runnerState, at);
      if (state !== m.runnerState) {
        m.runnerState = state;
        m.runnerStateVersion++;
      }
      await tx.saveMachine(m);
      return m;
    });
  }

  async function heartbeat(): Promise<void> {
    try {
      await beat();
    } catch (err) {
      log.warn({ err }, 'cluster heartbeat failed; retrying at the next one');
    }
  }

  /**
   * Marks the machines of dead replicas offline. Apart from the heartbeat, never in its way:
   * after a replica dies its thousands of machines are reaped here one short transaction each,
   * while their runners reconnect, and a heartbeat waiting for that would lapse, and this
   * replica would give up its own streams (a herd feeding itself).
   */
  async function housekeeping(): Promise<void> {
    try {
      const orphans = await store.orphanedMachines(deadAfterMs);
      for (const o of orphans) {
        const m = await reap(o.machineId, o.epoch);
        if (m) {
          log.info({ machineId: m.id, epoch: o.epoch }, 'machine offline: its replica is gone (until its runner reconnects)');
          opts.machineChanged(m);
        }
      }
      await store.forgetReplicas(FORGET_AFTER_MS);
    } catch (err) {
      log.warn({ err }, 'could not mark the machines of dead replicas offline; retrying at the next heartbeat');
    }
  }

  /** One heartbeat and one housekeeping at a time each: a slow database never stacks them up. */
  function tick(): void {
    beating ??= heartbeat().finally(() => (beating = undefined));
    reaping ??= housekeeping().finally(() => (reaping = undefined));
  }

  return {
    replicaId,
    deadAfterMs,

    async start() {
      await beat();
      log.info({ peerAddr: opts.peerAddr, heartbeatMs, deadAfterMs }, 'replica registered');
      timer = setInterval(tick, heartbeatMs);
      timer.unref();
      tick();
    },

    async forward(namespace, machineId, call, deadlineMs, signal) {
      // Twice at most: an ABORTED answer means the owner changed between the read and the call.
      for (let attempt = 0; ; attempt++) {
        const owner = await store.ownerOf(machineId, deadAfterMs);
        if (!owner || owner.replicaId === replicaId || !owner.alive || !owner.peerAddr) return undefined;
        try {
          return await dialer.relay(owner.peerAddr, { namespace, machineId, epoch: owner.epoch, call, deadline: new Date(now().getTime() + deadlineMs) }, signal);
        } catch (err) {
          if (attempt === 0 && isHapiError(err) && err.kind === 'Aborted' && !signal?.aborted) continue;
          throw err;
        }
      }
    },

    async openUpstream(namespace, machineId, sessionId, hello, handlers, signal) {
      const owner = await store.ownerOf(machineId, deadAfterMs);
      if (!owner || owner.replicaId === replicaId || !owner.alive || !owner.peerAddr) return undefined;
      return dialer.attach(owner.peerAddr, { namespace, machineId, sessionId, epoch: owner.epoch, hello }, handlers, signal);
    },

    replicas: () => store.replicas(deadAfterMs),

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await Promise.all([beating, reaping]);
      dialer.close();
      try {
        await store.removeReplica(replicaId);
      } catch (err) {
        log.warn({ err }, 'could not remove this replica from the registry; the others see it dead after its heartbeats stop');
      }
    },
  };
}

