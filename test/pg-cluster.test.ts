import { existsSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startPgCluster } from './pg-cluster.js';

describe('throwaway PostgreSQL cluster (test/pg-cluster.ts)', () => {
  it('starts, serves a fresh database, and is gone after stop', async (ctx) => {
    const cluster = await startPgCluster();
    if (!cluster) return ctx.skip();
    try {
      const url = await cluster.createDatabase('t_one');
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const r = await c.query<{ db: string; su: boolean }>("SELECT current_database() AS db, current_setting('is_superuser') = 'on' AS su");
      await c.end();
      expect(r.rows[0]).toEqual({ db: 't_one', su: true });
    } finally {
      await cluster.stop();
    }
    expect(existsSync(cluster.dir)).toBe(false);
    const c = new pg.Client({ connectionString: cluster.url, connectionTimeoutMillis: 2_000 });
    await expect(c.connect()).rejects.toThrow();
  });
});
