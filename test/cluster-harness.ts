/**
 * Several hub replicas on one throwaway PostgreSQL (test/pg-cluster.ts): real hub processes
 * (dist/hapi.cjs hub), each with its own HAPI_HOME, gRPC/HTTP ports, a peer port and the one
 * cluster secret, all on one fresh database. The first replica makes the owner token; the
 * others start with it. `stop()` kills every replica (and whatever ran in their homes), also
 * when the test failed; the PostgreSQL cluster is the caller's (one per test file, started with
 * `startPgCluster()`).
 *
 *   const pgc = await startPgCluster();                 // undefined: skip (loud message printed)
 *   const hubs = await startHubCluster(pgc!, { replicas: 3 });
 *   hubs.replicas[0].clients().hub.listMachines({});
 *   await hubs.stop();
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { createTestHome, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';
import type { PgCluster } from './pg-cluster.js';

export interface Replica extends HubProcess {
  /** A, B, C, ... */
  readonly name: string;
  readonly home: TestHome;
  /** 127.0.0.1:PORT the replica listens on for its peers (HAPI_HUB_PEER_ADDR). */
  readonly peerAddr: string;
  /** The environment it was started with (to restart it the same way). */
  readonly env: NodeJS.ProcessEnv;
}

export interface HubCluster {
  /** The replicas' database. */
  readonly databaseUrl: string;
  readonly secret: string;
  readonly ownerToken: string;
  readonly replicas: Replica[];
  /** Every replica's gRPC URL, comma-separated (a runner's HAPI_API_URL list). */
  readonly apiUrls: string;
  /** Starts one more replica (or restarts `name`'s home with the same ports) on the same database. */
  startReplica(name: string, extraEnv?: NodeJS.ProcessEnv): Promise<Replica>;
  /** Backend pids of a replica's change listener (LISTEN connection), from pg_stat_activity. */
  listenerPids(replica: Replica): Promise<number[]>;
  /** A client on the cluster's database (closed by stop()). */
  db(): Promise<pg.Client>;
  /** Kills every replica and removes their homes. Idempotent. */
  stop(): Promise<void>;
}

export interface HubClusterOptions {
  replicas?: number;
  /** Added to every replica's environment. */
  env?: NodeJS.ProcessEnv;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startHubCluster(pgc: PgCluster, opts: HubClusterOptions = {}): Promise<HubCluster> {
  const databaseUrl = await pgc.createDatabase();
  const secret = randomBytes(24).toString('hex');
  const replicas: Replica[] = [];
  const homes: TestHome[] = [];
  const clients: pg.Client[] = [];
  let ownerToken: string | undefined;
  let stopped = false;

  async function startReplica(name: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Replica> {
    const previous = replicas.find((r) => r.name === name);
    const home = previous?.home ?? createTestHome();
    if (!previous) homes.push(home);
    const peerAddr = previous?.peerAddr ?? `127.0.0.1:${await freePort()}`;
    const env: NodeJS.ProcessEnv = previous
      ? { ...previous.env, ...extraEnv }
      : {
          HAPI_HUB_DATABASE_URL: databaseUrl,
          HAPI_HUB_PEER_ADDR: peerAddr,
          HAPI_HUB_CLUSTER_SECRET: secret,
          ...opts.env,
          ...extraEnv,
        };
    if (previous) {
      // Same ports as before: runners given its address find it again.
      env.HAPI_HUB_GRPC_PORT = new URL(previous.grpcUrl).port;
      env.HAPI_HUB_HTTP_PORT = new URL(previous.httpUrl).port;
    }
    const h = await startHubProcess(home, env, ownerToken);
    ownerToken ??= h.ownerToken;
    const replica: Replica = Object.assign(h, { name, home, peerAddr, env });
    const i = replicas.findIndex((r) => r.name === name);
    if (i >= 0) replicas[i] = replica;
    else replicas.push(replica);
    return replica;
  }

  const cluster: HubCluster = {
    databaseUrl,
    secret,
    get ownerToken() {
      return ownerToken!;
    },
    replicas,
    get apiUrls() {
      return replicas.map((r) => r.grpcUrl).join(',');
    },
    startReplica,
    async listenerPids(replica) {
      // The listener names itself `hapi listen <hub pid> <replica id>` (application_name).
      const c = await cluster.db();
      const rows = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 AND datname = current_database()', [`hapi listen ${replica.proc.pid} %`]);
      return rows.rows.map((r) => r.pid);
    },
    async db() {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      clients.push(c);
      return c;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of clients.splice(0)) await c.end().catch(() => undefined);
      for (const r of replicas) await r.stop('SIGKILL').catch(() => undefined);
      for (const h of homes) await h.cleanup();
    },
  };
  try {
    const n = opts.replicas ?? 3;
    // One after the other: the first makes the owner token, the others are given it.
    for (let i = 0; i < n; i++) await startReplica(String.fromCharCode(65 + i));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
