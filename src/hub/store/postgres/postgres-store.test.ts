import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPgCluster, type PgCluster } from '../../../../test/pg-cluster.js';
import { isHapiError } from '../../../shared/errors.js';
import { silentLogger } from '../../../shared/logger.js';
import type { HubStore } from '../../domain/ports.js';
import { createPushSubscriptions } from '../../domain/notify/push-subscriptions.js';
import { createTokens } from '../../domain/tokens.js';
import { describeHubStore } from '../store-suite.js';
import { LATEST_VERSION, MIGRATION_VERSIONS } from './migrations.js';
import { openPostgresStore, redactDatabaseUrl } from './postgres-store.js';
import { createPostgresClusterStore } from './cluster-store.js';

// One throwaway cluster for this file, a fresh database per test (tests/pg-cluster.ts).
let cluster: PgCluster | undefined;
const ready = startPgCluster().then((c) => (cluster = c));
beforeAll(async () => {
  await ready;
});
afterAll(async () => {
  await cluster?.stop();
});

/** vitest decides what to skip before beforeAll runs: wait for the cluster at collection time. */
const available = await ready.then(Boolean);

describe.skipIf(!available)('postgres store', () => {
  describeHubStore('postgres', async () => {
    const url = await cluster!.createDatabase();
    let store: HubStore = await openPostgresStore(url);
    return {
      store,
      async reopen() {
        await store.close();
        return (store = await openPostgresStore(url));
      },
      async dispose() {
        await store.close();
      },
    };
  });

  it('applies the migrations exactly once when several hubs start at once on an empty database', async () => {
    const url = await cluster!.createDatabase();
    const stores = await Promise.all(Array.from({ length: 6 }, () => openPostgresStore(url)));
    try {
      const rows = (await stores[0]!.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows;
      expect(rows.map((r) => r.version)).toEqual(MIGRATION_VERSIONS);
      expect(MIGRATION_VERSIONS.at(-1)).toBe(LATEST_VERSION);
      // Every store works.
      for (const [i, s] of stores.entries()) await s.ensureNamespace(`ns${i}`);
      expect(Number((await stores[0]!.pool.query('SELECT COUNT(*) AS n FROM namespaces')).rows[0].n)).toBe(6);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('creates the owner token exactly once when several hubs start together', async () => {
    const url = await cluster!.createDatabase();
    const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresStore(url)));
    try {
      const log = silentLogger();
      const made = await Promise.all(stores.map((store) => createTokens({ store, log, now: () => new Date() }).bootstrapOwnerToken()));
      const created = made.filter((t) => t !== undefined);
      expect(created).toHaveLength(1);
      expect(await stores[0]!.countOwnerTokens()).toBe(1);
      // The one that was created authenticates on every hub.
      for (const store of stores) {
        expect(await createTokens({ store, log, now: () => new Date() }).authenticate(created[0]!.token)).toMatchObject({ owner: true });
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('makes the VAPID key pair exactly once when several hubs start together', async () => {
    const url = await cluster!.createDatabase();
    const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresStore(url)));
    try {
      // Each hub makes its own pair and saves it unless one exists: one wins, all use it.
      const keys = await Promise.all(stores.map((store) => createPushSubscriptions({ store, now: () => new Date(), allowLoopbackHttp: false }).vapidKeys()));
      expect(new Set(keys.map((k) => k.publicKey)).size).toBe(1);
      expect(new Set(keys.map((k) => k.privateKey)).size).toBe(1);
      expect(Number((await stores[0]!.pool.query('SELECT COUNT(*) AS n FROM push_vapid')).rows[0].n)).toBe(1);
      expect(await stores[4]!.getVapidKeys()).toEqual(keys[0]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('counts a shared rate limit once across stores: racing takes never grant more than the budget', async () => {
    const url = await cluster!.createDatabase();
    const stores = await Promise.all(Array.from({ length: 3 }, () => openPostgresStore(url)));
    try {
      const limit = { burst: 5, intervalMs: 1_000 };
      const t = 1_000_000;
      // 12 takes at one instant, spread over three stores (three replicas): exactly 5 granted.
      const waits = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 3]!.takeSharedRateLimit!('k', limit, t)));
      expect(waits.filter((w) => w === 0)).toHaveLength(5);
      // A refused take waits for the next token and costs nothing.
      expect(waits.filter((w) => w > 0).every((w) => w === 1_000)).toBe(true);
      expect(await stores[1]!.takeSharedRateLimit!('k', limit, t + 400)).toBe(600);
      expect(await stores[2]!.takeSharedRateLimit!('k', limit, t + 1_000)).toBe(0);
      expect(await stores[0]!.takeSharedRateLimit!('k', limit, t + 1_000)).toBe(1_000);
      // Another key has its own budget; a bucket refills to the burst and no further.
      expect(await stores[0]!.takeSharedRateLimit!('other', limit, t)).toBe(0);
      const later = t + 60_000;
      const again = [];
      for (let i = 0; i < 6; i++) again.push(await stores[i % 3]!.takeSharedRateLimit!('k', limit, later));
      expect(again).toEqual([0, 0, 0, 0, 0, 1_000]);
      // A full bucket's row says nothing: it is swept (here by a store whose last sweep is a minute old).
      await stores[1]!.takeSharedRateLimit!('third', limit, later + 120_000);
      const keys = (await stores[0]!.pool.query<{ key: string }>('SELECT key FROM rate_limits ORDER BY key')).rows.map((r) => r.key);
      expect(keys).toEqual(['third']);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('answers UNAVAILABLE when PostgreSQL cannot be reached, and never shows the password', async () => {
    const port = cluster!.port;
    const gone = `postgres://hapi:secret@127.0.0.1:1/nothing`;
    const err = await openPostgresStore(gone).catch((e: unknown) => e);
    expect(isHapiError(err) && err.kind).toBe('Unavailable');
    expect(redactDatabaseUrl(`postgres://hapi:secret@127.0.0.1:${port}/db`)).toBe(`postgres://hapi:***@127.0.0.1:${port}/db`);
    // A store whose PostgreSQL goes away mid-life: its calls reject Unavailable, not a raw driver error.
    const own = await startPgCluster();
    if (!own) return;
    const store = await openPostgresStore(own.url);
    try {
      await store.ensureNamespace('default');
      await own.stop();
      for (const call of [() => store.listMachines('default'), () => store.transaction(async (tx) => tx.getMachine('m1'))]) {
        const failed = await call().catch((e: unknown) => e);
        expect(isHapiError(failed) && failed.kind).toBe('Unavailable');
      }
    } finally {
      await own.stop();
      await store.close();
    }
  });

  it("keeps a replica's heartbeat on a connection of its own: it is written while every pooled connection is busy", async () => {
    const url = await cluster!.createDatabase();
    const store = await openPostgresStore(url, { maxConnections: 2, leaseConnection: true });
    const held = [await store.pool.connect(), await store.pool.connect()];
    try {
      const registry = createPostgresClusterStore(store.pool, store.leasePool);
      // Through the exhausted pool this would wait for a connection and fail after its 10 s timeout.
      await registry.heartbeat({ id: 'r1', peerAddr: '127.0.0.1:1', version: 'test', startedAt: new Date() });
      const rows = (await held[0]!.query<{ id: string }>('SELECT id FROM hub_replicas')).rows;
      expect(rows.map((r) => r.id)).toEqual(['r1']);
      expect(store.pool.waitingCount).toBe(0);
    } finally {
      for (const c of held) c.release();
      await store.close();
    }
  });
});
