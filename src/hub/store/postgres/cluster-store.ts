/**
 * The replica registry and ownership reads (src/hub/cluster/cluster-ports.ts) over PostgreSQL,
 * on the store's pool (migration 7: hub_replicas, machines.owner_replica/owner_epoch). Every
 * time is the database's clock (clock_timestamp()), never a replica's.
 */
import type pg from 'pg';
import type { ClusterStore } from '../../cluster/cluster-ports.js';
import { storeError } from '../store-errors.js';

/** The database's now in epoch milliseconds. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/**
 * `leasePool`: where heartbeats go (a connection of their own, so a busy pool never delays the
 * one write that keeps this replica alive in the others' eyes); default `pool`.
 */
export function createPostgresClusterStore(pool: Pick<pg.Pool, 'query'>, leasePool: Pick<pg.Pool, 'query'> = pool): ClusterStore {
  const q = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], on = pool) => {
    try {
      return await on.query<R>(sql, params);
    } catch (err) {
      throw storeError(err);
    }
  };
  return {
    async heartbeat(r) {
      await q(
        `INSERT INTO hub_replicas (id, peer_addr, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, ${DB_NOW})
         ON CONFLICT (id) DO UPDATE SET peer_addr = excluded.peer_addr, version = excluded.version, heartbeat_at = excluded.heartbeat_at`,
        [r.id, r.peerAddr, r.version, r.startedAt.getTime()],
        leasePool,
      );
    },
    async removeReplica(id) {
      await q('DELETE FROM hub_replicas WHERE id = $1', [id]);
    },
    async replicas(deadAfterMs) {
      const { rows } = await q<{ id: string; peer_addr: string; version: string; started_at: number; heartbeat_at: number; alive: boolean }>(
        `SELECT id, peer_addr, version, started_at, heartbeat_at, heartbeat_at > ${DB_NOW} - $1 AS alive FROM hub_replicas ORDER BY started_at, id`,
        [deadAfterMs],
      );
      return rows.map((r) => ({
        id: r.id,
        peerAddr: r.peer_addr,
        version: r.version,
        startedAt: new Date(Number(r.started_at)),
        heartbeatAt: new Date(Number(r.heartbeat_at)),
        alive: r.alive,
      }));
    },
    async forgetReplicas(forgetAfterMs) {
      return (await q(`DELETE FROM hub_replicas WHERE heartbeat_at < ${DB_NOW} - $1`, [forgetAfterMs])).rowCount ?? 0;
    },
    async ownerOf(machineId, deadAfterMs) {
      const { rows } = await q<{ owner_replica: string; owner_epoch: number; peer_addr: string | null; alive: boolean | null }>(
        `SELECT m.owner_replica, m.owner_epoch, r.peer_addr, r.heartbeat_at > ${DB_NOW} - $2 AS alive
         FROM machines m LEFT JOIN hub_replicas r ON r.id = m.owner_replica
         WHERE m.id = $1 AND m.online = 1 AND m.owner_replica IS NOT NULL`,
        [machineId, deadAfterMs],
      );
      const r = rows[0];
      return r && { replicaId: r.owner_replica, epoch: Number(r.owner_epoch), peerAddr: r.peer_addr ?? undefined, alive: r.alive === true };
    },
    async orphanedMachines(deadAfterMs) {
      const { rows } = await q<{ id: string; owner_epoch: number }>(
        `SELECT m.id, m.owner_epoch FROM machines m
         WHERE m.online = 1 AND NOT EXISTS (
           SELECT 1 FROM hub_replicas r WHERE r.id = m.owner_replica AND r.heartbeat_at > ${DB_NOW} - $1)`,
        [deadAfterMs],
      );
      return rows.map((r) => ({ machineId: r.id, epoch: Number(r.owner_epoch) }));
    },
  };
}
