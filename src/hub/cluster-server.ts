/**
 * The replica side of a hub on PostgreSQL with a peer address (README, "Several hub replicas"):
 * the peer gRPC server on its own port (the cluster secret, never a token), the registry and
 * heartbeat, and the dialer to the other replicas. Started by server.ts before the runners' port
 * listens, so a machine is never claimed by a replica the others do not know yet.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'nice-grpc';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { PeerServiceDefinition } from '../contract/peer.js';
import type { ClusterConfig } from '../shared/config-cluster.js';
import { UnavailableError } from '../shared/errors.js';
import { errorMappingMiddleware } from '../shared/grpc-errors.js';
import { CLI_VERSION } from '../shared/version.js';
import { createHubCluster, type HubCluster } from './cluster/hub-cluster.js';
import type { ClusterStore } from './cluster/cluster-ports.js';
import type { HubCore, HubCoreCluster } from './domain/hub-core-api.js';
import type { HubStore } from './domain/ports.js';
import { createPeerDialer, createPeerService, peerAuthMiddleware } from './grpc/peer-service.js';

/** How long a draining replica waits for its runners to move before it closes their streams. */
export const DRAIN_TIMEOUT_MS = 5_000;

export interface ClusterServer {
  readonly replicaId: string;
  /** host:port the others dial. */
  readonly advertise: string;
  /** host:port the peer service listens on. */
  readonly listen: string;
  readonly cluster: HubCluster;
  close(): Promise<void>;
}

/** The hooks HubCore is created with; they reach the cluster once it started. */
export function clusterHooks(): HubCoreCluster & { bind(c: HubCluster): void } {
  const replicaId = `${hostname()}-${randomUUID().slice(0, 8)}`;
  let cluster: HubCluster | undefined;
  return {
    replicaId,
    forward: (...args) => (cluster ? cluster.forward(...args) : Promise.resolve(undefined)),
    openUpstream: (...args) => (cluster ? cluster.openUpstream(...args) : Promise.resolve(undefined)),
    bind(c) {
      cluster = c;
    },
  };
}

export async function startClusterServer(o: {
  config: ClusterConfig;
  hooks: ReturnType<typeof clusterHooks>;
  core: HubCore;
  store: HubStore;
  clusterStore: ClusterStore;
  log: Logger;
}): Promise<ClusterServer> {
  const { config, core, hooks } = o;
  const server: Server = createServer({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  server.with(errorMappingMiddleware(o.log)).with(peerAuthMiddleware(config.secret)).add(PeerServiceDefinition, createPeerService(core));
  const bindHost = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  let port: number;
  try {
    port = await server.listen(`${bindHost}:${config.listen.port}`, ServerCredentials.createInsecure());
  } catch (err) {
    throw new UnavailableError(`cannot listen for peers on ${config.listen.host}:${config.listen.port} (HAPI_HUB_PEER_ADDR): ${(err as Error).message}`);
  }
  const listen = `${bindHost}:${port}`;
  const advertise = config.advertise ?? listen;
  const cluster = createHubCluster({
    store: o.clusterStore,
    machines: o.store,
    dialer: createPeerDialer(config.secret),
    replicaId: hooks.replicaId,
    peerAddr: advertise,
    version: CLI_VERSION,
    machineChanged: (m) => core.machineChanged(m),
    onLapsed: () => core.dropStreams('this hub replica missed its heartbeats'),
    log: o.log,
  });
  try {
    await cluster.start();
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  hooks.bind(cluster);
  return {
    replicaId: hooks.replicaId,
    advertise,
    listen,
    cluster,
    async close() {
      await cluster.close();
      server.forceShutdown();
    },
  };
}
