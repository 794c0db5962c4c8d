/**
 * The ports of the replica cluster (README, "Several hub replicas"): the replica registry and
 * the ownership reads on the shared database (implemented over PostgreSQL in
 * src/hub/store/postgres/cluster-store.ts), and the dialer that forwards a call to the replica
 * owning a machine (implemented over the peer gRPC service in src/hub/grpc/peer-client.ts).
 * Times are the database's own clock, so replicas on hosts whose clocks disagree agree on who
 * is alive.
 */
import type { RelayCall, RelayResult } from '../../contract/types.js';
import type { AttachHello } from '../../contract/session-types.js';
import type { Upstream, UpstreamHandlers } from '../domain/attach-streams.js';

/** One replica as registered. */
export interface ReplicaRecord {
  id: string;
  /** host:port the others dial for the peer service. */
  peerAddr: string;
  version: string;
  startedAt: Date;
  /** Last heartbeat (the database's clock). */
  heartbeatAt: Date;
  /** Heartbeat within the dead-after window. */
  alive: boolean;
}

/** A machine's owner as recorded, with what the registry says about that replica. */
export interface MachineOwner {
  replicaId: string;
  epoch: number;
  /** The owner's peer address; undefined when it is not registered (any more). */
  peerAddr?: string;
  /** The owner's heartbeat is fresh. */
  alive: boolean;
}

export interface ClusterStore {
  /** Registers this replica, or refreshes its heartbeat (heartbeat_at = the database's now). */
  heartbeat(r: { id: string; peerAddr: string; version: string; startedAt: Date }): Promise<void>;
  /** Removes the replica's row (a drained exit): its machines are orphans at once. */
  removeReplica(id: string): Promise<void>;
  /** Every registered replica; alive = a heartbeat within `deadAfterMs`. */
  replicas(deadAfterMs: number): Promise<ReplicaRecord[]>;
  /** Replicas silent for longer than `forgetAfterMs` are deleted (they died long ago). */
  forgetReplicas(forgetAfterMs: number): Promise<number>;
  /** The owner of an online machine, or undefined (offline, unknown, never claimed). */
  ownerOf(machineId: string, deadAfterMs: number): Promise<MachineOwner | undefined>;
  /** Online machines whose owner is not alive (or that have none), with the epoch seen. */
  orphanedMachines(deadAfterMs: number): Promise<{ machineId: string; epoch: number }[]>;
}

/** A call forwarded to the machine's owner. */
export interface PeerRelay {
  namespace: string;
  machineId: string;
  /** The owner epoch read (the owner refuses the call when it holds another). */
  epoch: number;
  call: RelayCall;
  deadline: Date;
}

/** A viewer's attach forwarded to the machine's owner. */
export interface PeerAttachOpen {
  namespace: string;
  machineId: string;
  sessionId: string;
  epoch: number;
  hello: AttachHello;
}

export interface PeerDialer {
  /**
   * Opens a viewer's upstream through the replica at `peerAddr` (PeerService.Attach): resolves
   * once the session answered (its snapshot or first output), rejects with why it could not open.
   */
  attach(peerAddr: string, open: PeerAttachOpen, handlers: UpstreamHandlers, signal: AbortSignal): Promise<Upstream>;
  /** Runs the call on the replica at `peerAddr`; rejects with its HapiError (FailedPrecondition STALE_OWNER: read the owner again). */
  relay(peerAddr: string, r: PeerRelay, signal?: AbortSignal): Promise<RelayResult>;
  close(): void;
}
