/**
 * Shared rate limits (src/hub/domain/ports.ts, SharedRateLimitStore) in PostgreSQL: table
 * `rate_limits` (migration 10). The token bucket of src/shared/rate-limit.ts as GCRA: a key's
 * row holds `tat`, when its bucket is full again. An action at `now` is allowed when
 * max(tat, now) - now <= (burst - 1) * interval, and then moves tat one interval on; a refused
 * action leaves tat alone (refused tries cost nothing). One INSERT ... ON CONFLICT DO UPDATE
 * ... RETURNING decides and records at once under the row's lock, so replicas racing on one
 * key never grant more than the budget. `now` is the calling replica's clock (the hub's
 * injectable one, so tests can move time): replicas whose clocks differ by d ms may grant up to
 * d / interval more between them, which NTP-synchronised hosts keep well under one.
 */
import type pg from 'pg';
import type { SharedRateLimitStore } from '../../domain/ports.js';

/** Rows whose bucket is full again are deleted at most this often (per replica). */
const SWEEP_EVERY_MS = 60_000;

export function sharedRateLimitsOver(db: Pick<pg.Pool, 'query'>): SharedRateLimitStore {
  let sweptAt = 0;
  return {
    async takeSharedRateLimit(key, limit, now) {
      if (!(limit.burst >= 1) || !(limit.intervalMs > 0)) throw new RangeError('a rate limit needs burst >= 1 and intervalMs > 0');
      const interval = Math.ceil(limit.intervalMs);
      const tolerance = (Math.floor(limit.burst) - 1) * interval;
      if (now - sweptAt >= SWEEP_EVERY_MS) {
        sweptAt = now;
        await db.query('DELETE FROM rate_limits WHERE tat <= $1', [now]);
      }
      // In SET, rate_limits.* is the row before the update; the new row is returned.
      const r = await db.query<{ tat: string | number; refused: boolean }>(
        `INSERT INTO rate_limits AS rl (key, tat, refused) VALUES ($1, $2::bigint + $3::bigint, FALSE)
         ON CONFLICT (key) DO UPDATE SET
           refused = GREATEST(rl.tat, $2::bigint) - $2::bigint > $4::bigint,
           tat = CASE WHEN GREATEST(rl.tat, $2::bigint) - $2::bigint > $4::bigint THEN rl.tat ELSE GREATEST(rl.tat, $2::bigint) + $3::bigint END
         RETURNING tat, refused`,
        [key, Math.floor(now), interval, tolerance],
      );
      const row = r.rows[0]!;
      return row.refused ? Math.max(1, Number(row.tat) - Math.floor(now) - tolerance) : 0;
    },
  };
}
