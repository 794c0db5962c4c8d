/**
 * Starts the hub: its store (SQLite, or PostgreSQL with HAPI_HUB_DATABASE_URL), HubCore, the gRPC server (MachineService for runners,
 * HubService + TokenService for clients, health and reflection) and the REST/JSON view on its
 * own HTTP port. `close()` stops in reverse order and always finishes: long-lived streams are
 * ended first, then the gRPC server is force-closed after a grace period.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server } from 'nice-grpc';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { HubServiceDefinition, TokenServiceDefinition } from '../contract/hub.js';
import { MachineServiceDefinition } from '../contract/machine-link.js';
import { writeFileAtomic } from '../shared/atomic-file.js';
import type { HubConfig } from '../shared/config.js';
import { errorMappingMiddleware } from '../shared/grpc-errors.js';
import { routeGrpcLogs } from '../shared/grpc-channel.js';
import { UnavailableError } from '../shared/errors.js';
import { pendingTimers } from '../shared/event-loop.js';
import type { HapiPaths } from '../shared/paths.js';
import { createHubCore, type HubCore } from './domain/hub-core.js';
import { DEFAULT_CONNECT_LIMITS } from './domain/hub-core-api.js';
import { publicHubUrl } from './public-url.js';
import type { HubStore } from './domain/ports.js';
import type { ChangeBus } from './cluster/change-bus.js';
import { openHubStore } from './store/sqlite/sqlite-store.js';
import { authMiddleware } from './grpc/auth.js';
import { receiveWindowInterceptor } from './grpc/receive-windows.js';
import { createHubService, createTokenService } from './grpc/hub-service.js';
import { createMachineService } from './grpc/machine-service.js';
import { createHealthService, createReflectionServices } from './grpc/introspection.js';
import type { HttpHandler } from '../shared/http/reply.js';
import { bearerAuthenticator, createHubHttpHandler, type HubHttpHandler } from './http/rest.js';
import { createOpsHandler } from './http/ops.js';
import { createHubMetrics } from './metrics/hub-metrics.js';
import { instrumentStore } from './store/instrumented-store.js';
import { CLI_VERSION } from '../shared/version.js';
import type { ClusterStore } from './cluster/cluster-ports.js';
import { clusterHooks, DRAIN_TIMEOUT_MS, startClusterServer, type ClusterServer } from './cluster-server.js';

export interface RunningHub {
  core: HubCore;
  store: HubStore;
  grpcPort: number;
  httpPort: number;
  host: string;
  tls: boolean;
  /** URL runners and clients use (HAPI_API_URL). */
  grpcUrl: string;
  httpUrl: string;
  /** The web page's address for people and phones (HAPI_HUB_PUBLIC_URL, or derived): every link the hub makes starts with it. */
  publicUrl: string;
  /** Set when this start created the owner token (printed once). */
  createdOwnerToken?: string;
  /** One of several replicas: its id and peer addresses (cluster-server.ts). */
  peer?: { replicaId: string; listen: string; advertise: string };
  /** Stops everything; resolves when done. Idempotent. */
  close(reason?: string): Promise<void>;
}

/**
 * A mounted handler may also take WebSocket upgrades on the same port (the web page's terminal
 * endpoint), and be told to end its open connections when the hub closes.
 */
export type WrappedHttpHandler = HttpHandler & {
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  close?: () => void;
};

export interface StartHubOptions {
  config: HubConfig;
  paths: HapiPaths;
  log: Logger;
  /**
   * Mounts the REST handler behind another one (the web page: static files and cookie sign-in in
   * front, the REST handler under `/api/`). One chain: `rest` is the handler to mount, not rebuilt.
   */
  wrapHttpHandler?: (rest: HubHttpHandler, core: HubCore, store: HubStore) => WrappedHttpHandler | Promise<WrappedHttpHandler>;
  /** How long close() waits for calls to finish before cancelling them. */
  shutdownGraceMs?: number;
}

/**
 * Keepalive aligned with the hub link (src/runner/hub-link/hub-link.ts): the hub pings idle
 * connections every 30 s and gives up after 10 s without an answer (a frozen or vanished
 * runner); it permits client pings every 10 s, and runners ping every 15 s, so neither side
 * ever sees GOAWAY too_many_pings.
 */
export const HUB_GRPC_OPTIONS = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.http2.max_ping_strikes': 2,
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  // Wider HTTP/2 receive windows than Node's 64 KiB (grpc/receive-windows.ts).
  interceptors: [receiveWindowInterceptor],
} as const;

const SERVICE_NAMES = ['hapi.hub.v1.MachineService', 'hapi.hub.v1.HubService', 'hapi.hub.v1.TokenService'];

/** What the metrics read of the PostgreSQL pool (pg.Pool's counts). */
interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/**
 * SQLite at `dbPath`, or PostgreSQL when HAPI_HUB_DATABASE_URL is set: that adapter (and pg) is
 * imported only then, so a SQLite hub never loads it.
 */
async function openStore(config: HubConfig, dbPath: string, log: Logger): Promise<{ store: HubStore; clusterStore?: ClusterStore; pool?: PoolCounts }> {
  if (!config.databaseUrl) return { store: openHubStore(dbPath) };
  const { openPostgresStore } = await import('./store/postgres/postgres-store.js');
  const store = await openPostgresStore(config.databaseUrl, { maxConnections: config.databasePoolMax, leaseConnection: !!config.cluster, onIdleError: (err) => log.warn({ err }, 'an idle PostgreSQL connection failed; the pool replaces it') });
  if (!config.cluster) return { store, pool: store.pool };
  const { createPostgresClusterStore } = await import('./store/postgres/cluster-store.js');
  return { store, pool: store.pool, clusterStore: createPostgresClusterStore(store.pool, store.leasePool) };
}

/**
 * The change bus between replicas, on PostgreSQL only (LISTEN/NOTIFY; loaded, like the store,
 * only then). A SQLite hub is alone: its watchers are fed in process.
 */
async function openChangeBus(config: HubConfig, log: Logger): Promise<ChangeBus | undefined> {
  if (!config.databaseUrl) return undefined;
  const { createPgChangeBus } = await import('./store/postgres/pg-change-bus.js');
  return createPgChangeBus({ url: config.databaseUrl, replicaId: randomUUID(), log, retryMs: config.listenRetryMs });
}

function hostForUrl(host: string): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return h.includes(':') ? `[${h}]` : h;
}

export async function startHub(opts: StartHubOptions): Promise<RunningHub> {
  const { config, paths } = opts;
  const log = opts.log.child({ c: 'hub' });
  routeGrpcLogs(opts.log);
  const dbPath = config.dbPath ?? paths.hubDb;
  const metrics = createHubMetrics();
  const opened = await openStore(config, dbPath, log);
  const store = instrumentStore(opened.store, metrics.observeStore);
  const bus = await openChangeBus(config, opts.log);
  // One of several replicas (HAPI_HUB_PEER_ADDR on PostgreSQL): cluster-server.ts.
  const hooks = config.cluster && opened.clusterStore ? clusterHooks() : undefined;
  const core = await createHubCore({
    bus,
    cluster: hooks,
    onRelay: metrics.observeRelay,
    store,
    log: opts.log,
    aliveTimeoutMs: config.aliveTimeoutMs,
    spawnDeadlineMs: config.spawnDeadlineMs,
    rpcDeadlineMs: config.rpcDeadlineMs,
    viewerBufferBytes: config.viewerBufferBytes,
    attachResumeMs: config.attachResumeMs,
    pushAllowLoopbackHttp: config.pushAllowLoopbackHttp,
    connectLimits: { ...DEFAULT_CONNECT_LIMITS, concurrency: config.connectConcurrency, queueMax: config.connectQueue },
  });

  const pool = opened.pool;
  metrics.sampleFrom(() => ({ ...core.stats(), databasePool: pool && { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } }));
  let shuttingDown = false;


  const tls = config.tlsCert !== undefined && config.tlsKey !== undefined;
  const cert = tls ? readFileSync(config.tlsCert!) : undefined;
  const key = tls ? readFileSync(config.tlsKey!) : undefined;

  const health = await createHealthService(SERVICE_NAMES);
  const reflection = await createReflectionServices(log).catch((err: unknown) => {
    log.warn({ err }, 'gRPC server reflection is disabled');
    return undefined;
  });

  let peers: ClusterServer | undefined;
  if (hooks) {
    try {
      peers = await startClusterServer({ config: config.cluster!, hooks, core, store, clusterStore: opened.clusterStore!, log: opts.log });
    } catch (err) {
      await core.close();
      await store.close();
      throw err;
    }
  }

  const server: Server = createServer(HUB_GRPC_OPTIONS);
  const errors = errorMappingMiddleware(opts.log);
  const authed = server.with(errors).with(authMiddleware(core));
  authed.add(MachineServiceDefinition, createMachineService(core, opts.log));
  authed.add(HubServiceDefinition, createHubService(core));
  // Sign-in links point at the HTTP port, known once it listens (calls come after that).
  let signInBase = '';
  authed.add(TokenServiceDefinition, createTokenService(core, () => signInBase));
  server.with(errors).add(health.definition, health.implementation as never);
  for (const r of reflection?.services ?? []) server.with(errors).add(r.definition, r.implementation as never);

  const bindHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const credentials = tls ? ServerCredentials.createSsl(null, [{ cert_chain: cert!, private_key: key! }]) : ServerCredentials.createInsecure();
  let grpcPort: number;
  try {
    grpcPort = await server.listen(`${bindHost}:${config.grpcPort}`, credentials);
  } catch (err) {
    await core.close();
    await peers?.close();
    await bus?.close();
    await store.close();
    throw new UnavailableError(
      `cannot listen for gRPC on ${config.host}:${config.grpcPort}: ${(err as Error).message}`,
    );
  }

  const rest = createHubHttpHandler({ hub: core, authenticate: bearerAuthenticator(core), log });
  const handler: WrappedHttpHandler = opts.wrapHttpHandler ? await opts.wrapHttpHandler(rest, core, store) : rest;
  const ops = createOpsHandler({
    core,
    store,
    notReady: () => (shuttingDown ? 'the hub is shutting down' : undefined),
    metrics,
    metricsOpen: config.metricsOpen,
    restRoutes: rest.routes,
    version: CLI_VERSION,
    log,
  });
  const onRequest = (req: Parameters<HttpHandler>[0], res: Parameters<HttpHandler>[1]) => {
    ops.handle(req, res).then((done) => (done ? undefined : handler(req, res))).catch((err: unknown) => {
      log.error({ err }, 'unhandled error in HTTP handler');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const http: HttpServer = tls ? createHttpsServer({ cert, key }, onRequest) : createHttpServer(onRequest);
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (handler.upgrade) return handler.upgrade(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  let httpPort: number;
  try {
    httpPort = await new Promise<number>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.httpPort, config.host, () => {
        http.off('error', reject);
        const addr = http.address();
        resolve(typeof addr === 'object' && addr ? addr.port : config.httpPort);
      });
    });
  } catch (err) {
    server.forceShutdown();
    await core.close();
    await peers?.close();
    await bus?.close();
    await store.close();
    throw new UnavailableError(
      `cannot listen for HTTP on ${config.host}:${config.httpPort}: ${(err as Error).message}`,
    );
  }

  // The owner token is made once both ports listen: a start that fails (a port in use) leaves no
  // token that nobody was shown.
  let createdOwnerToken: string | undefined;
  const owner = await core.bootstrapOwnerToken();
  if (owner) {
    writeFileAtomic(paths.hubOwnerTokenFile, `${owner.token}\n`, 0o600);
    createdOwnerToken = owner.token;
  }

  const scheme = tls ? 'https' : 'http';
  const urlHost = hostForUrl(config.host);
  // Links start with the address people open (HAPI_HUB_PUBLIC_URL, or derived from the listen address).
  signInBase = publicHubUrl({ publicUrl: config.publicUrl, host: config.host, httpPort, tls });
  let closing: Promise<void> | undefined;
  const hub: RunningHub = {
    core,
    store,
    grpcPort,
    httpPort,
    host: config.host,
    tls,
    grpcUrl: `${scheme}://${urlHost}:${grpcPort}`,
    httpUrl: `${scheme}://${urlHost}:${httpPort}`,
    publicUrl: signInBase,
    createdOwnerToken,
    peer: peers && { replicaId: peers.replicaId, listen: peers.listen, advertise: peers.advertise },
    close(reason = 'shutdown') {
      closing ??= (async () => {
        shuttingDown = true;
        log.info({ reason }, 'hub shutting down');
        // A replica first sends its runners to the others (Drain), so a rolling restart loses nothing.
        if (peers) await core.drain(`hub replica shutting down (${reason})`, DRAIN_TIMEOUT_MS);
        // Reverse order of start: stop accepting HTTP, end long-lived streams, then gRPC.
        http.close();
        handler.close?.();
        health.close();
        await core.close();
        http.closeIdleConnections();
        const grace = opts.shutdownGraceMs ?? 3_000;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          server.shutdown(),
          new Promise<void>((r) => {
            timer = setTimeout(() => {
              log.warn({ graceMs: grace }, 'calls still open after the grace period: cancelling them');
              server.forceShutdown();
              r();
            }, grace);
          }),
        ]);
        clearTimeout(timer);
        http.closeAllConnections();
        await peers?.close();
        await bus?.close();
        await store.close();
        log.info({ pendingTimers: pendingTimers() }, 'hub stopped');
      })();
      return closing;
    },
  };
  log.info({ grpcPort, httpPort, host: config.host, db: store.path, tls }, 'hub listening');
  return hub;
}
