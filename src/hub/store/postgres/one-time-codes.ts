/**
 * One-time codes (src/hub/domain/ports.ts, OneTimeCodeStore) in PostgreSQL: table
 * `one_time_codes` (migration 9). Taking a code is one `DELETE ... RETURNING`: of replicas
 * racing for the same code, exactly one deletes the row and gets its payload.
 */
import type pg from 'pg';
import type { OneTimeCodeStore } from '../../domain/ports.js';

export function oneTimeCodesOver(db: Pick<pg.Pool, 'query'>): OneTimeCodeStore {
  return {
    async insertOneTimeCode(c) {
      await db.query('DELETE FROM one_time_codes WHERE expires_at <= $1', [Date.now()]);
      await db.query('INSERT INTO one_time_codes (hash, kind, payload, expires_at) VALUES ($1, $2, $3, $4)', [c.hash, c.kind, c.payload, c.expiresAt]);
    },
    async takeOneTimeCode(kind, hash, now) {
      const r = await db.query<{ payload: string; expires_at: number }>('DELETE FROM one_time_codes WHERE hash = $1 AND kind = $2 RETURNING payload, expires_at', [hash, kind]);
      const row = r.rows[0];
      return row && Number(row.expires_at) > now ? row.payload : undefined;
    },
    async countOneTimeCodes(kind, now) {
      const r = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM one_time_codes WHERE kind = $1 AND expires_at > $2', [kind, now]);
      return Number(r.rows[0]!.n);
    },
  };
}
