/**
 * The runner streams of one replica among several (README, "Several hub replicas"), as the
 * hub's facade (hub-core.ts) uses them: writes fenced by the owner epoch, calls forwarded by
 * another replica run down the stream this one holds, draining on SIGTERM, and giving up every
 * stream when this replica's own heartbeat lapsed. A single hub gets `clustered: false`: its
 * writes go straight to the store as before.
 */
import type { Logger } from 'pino';
import { AbortedError, FailedPreconditionError, NotFoundError, UnavailableError } from '../../shared/errors.js';
import { ATTACH_STREAM_CAPABILITY } from '../../contract/machine-link.js';
import type { AttachHello } from '../../contract/session-types.js';
import type { Upstream, UpstreamHandlers } from '../domain/attach-streams.js';
import { ATTACH_OPEN_TIMEOUT_MS } from '../domain/hub-terminals.js';
import type { RelayCall, RelayResult } from '../../contract/types.js';
import type { HubStore, TransactionStores } from '../domain/ports.js';
import type { Connection, Presence } from '../domain/presence.js';
import type { HubEvent, MachineRecord } from '../domain/types.js';

export interface ReplicaStreamsOptions {
  store: HubStore;
  presence: Presence;
  publish(namespace: string, event: HubEvent): void;
  log: Logger;
  now: () => Date;
  clustered: boolean;
}

export interface ReplicaStreams {
  /**
   * Runs a write for the stream's machine. Clustered, it runs in a transaction that first
   * checks, under the machine row's lock, that the stream's owner epoch is still the machine's:
   * a stale owner (the runner connected to another replica since) is fenced, its write refused
   * (Unavailable) and its stream dropped.
   */
  fenced<T>(conn: Connection, work: (tx: TransactionStores) => Promise<T>): Promise<T>;
  relayForPeer(namespace: string, machineId: string, epoch: number, call: RelayCall, deadline: Date, signal?: AbortSignal): Promise<RelayResult>;
  attachForPeer(namespace: string, machineId: string, sessionId: string, epoch: number, hello: AttachHello, handlers: UpstreamHandlers, signal: AbortSignal): Promise<Upstream>;
  machineChanged(m: MachineRecord): void;
  drain(reason: string, timeoutMs: number): Promise<void>;
  /** Set by drain(): new runner streams are refused (Unavailable), so they go elsewhere. */
  readonly draining: boolean;
  /**
   * Throws Unavailable once drain() began: a call for a stream this replica holds is refused
   * before it reaches the runner (never applied, safe to retry), so the stream's calls run down.
   */
  refuseWhileDraining(machineId: string): void;
  dropStreams(reason: string): void;
}

/** The error a replica answers a forwarded call with when it holds the machine with another epoch. */
export function staleOwner(machineId: string, mine: number, asked: number): AbortedError {
  return new AbortedError(`this replica holds machine ${machineId} at epoch ${mine}, not ${asked}: read its owner again`);
}

export function createReplicaStreams(opts: ReplicaStreamsOptions): ReplicaStreams {
  const { store, presence, publish, log, now } = opts;
  let draining = false;

  /** This replica's stream of the machine, for a call another replica forwarded. */
  function held(namespace: string, machineId: string, epoch: number): Connection {
    const conn = presence.get(machineId);
    if (!conn || conn.detached) throw new UnavailableError(`machine ${machineId} is not connected to this hub replica`);
    if (conn.namespace !== namespace) throw new NotFoundError(`machine ${machineId} not found`);
    if (epoch !== 0 && conn.epoch !== epoch) throw staleOwner(machineId, conn.epoch, epoch);
    return conn;
  }
  function refuseWhileDraining(machineId: string): void {
    if (draining) throw new UnavailableError(`this hub replica is shutting down and machine ${machineId} is moving to another one; the call was not sent: retry it`);
  }
  return {
    get draining() {
      return draining;
    },

    async fenced(conn, work) {
      if (!opts.clustered) return work(store);
      return store.transaction(async (tx) => {
        const owner = await tx.machineOwner(conn.machineId);
        if (owner?.epoch !== conn.epoch) {
          log.warn({ machineId: conn.machineId, epoch: conn.epoch, current: owner?.epoch }, 'fenced a stale owner: another replica claimed the machine; dropping the stream');
          presence.detach(conn, 'stale owner epoch');
          conn.sink.close(new AbortedError(`machine ${conn.machineId} is owned by another hub replica now (epoch ${owner?.epoch ?? 'none'}, this stream's ${conn.epoch})`));
          throw new UnavailableError(`stale owner epoch ${conn.epoch} for machine ${conn.machineId}: write refused`);
        }
        return work(tx);
      });
    },

    async relayForPeer(namespace, machineId, epoch, call, deadline, signal) {
      const conn = held(namespace, machineId, epoch);
      refuseWhileDraining(machineId);
      const deadlineMs = Math.max(1, deadline.getTime() - now().getTime());
      return conn.pending.request(call, deadlineMs, (requestId, d) => conn.sink.send({ type: 'rpc', requestId, deadline: d, call }), signal);
    },

    async attachForPeer(namespace, machineId, sessionId, epoch, hello, handlers, signal) {
      const conn = held(namespace, machineId, epoch);
      if (!conn.capabilities.includes(ATTACH_STREAM_CAPABILITY)) {
        throw new FailedPreconditionError(`the runner of machine ${machineId} is too old to attach through the hub; update hapi there`);
      }
      return conn.attaches.request(handlers, (attachId) => conn.sink.send({ type: 'open-attach', attachId, sessionId, hello }), ATTACH_OPEN_TIMEOUT_MS, signal);
    },

    machineChanged: (m) => publish(m.namespace, { type: 'machine', machine: m }),

    async drain(reason, timeoutMs) {
      draining = true;
      const before = presence.size;
      const until = Date.now() + timeoutMs;
      // A runner told to leave drops its stream at once, and with it the answer to a call still
      // in flight on it (a spawn whose session did start): each stream gets its Drain only once
      // its calls are answered. New calls are refused meanwhile (`refuseWhileDraining`), so a
      // stream's calls only run down. The runners end their streams themselves: wait for that
      // (a poll, not a fixed sleep).
      const told = new Set<Connection>();
      for (;;) {
        for (const conn of presence.all()) {
          if (told.has(conn) || conn.pending.size > 0) continue;
          told.add(conn);
          conn.sink.send({ type: 'drain', reason });
        }
        if (presence.size === 0 || Date.now() >= until) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      log.info({ streams: before, left: presence.size }, presence.size === 0 ? 'drained: every runner left for another replica' : 'drain timed out; closing the streams left');
    },

    refuseWhileDraining,

    dropStreams(reason) {
      for (const conn of presence.all()) {
        presence.detach(conn, reason);
        conn.sink.close(new UnavailableError(`${reason}; reconnect`));
      }
    },
  };
}
