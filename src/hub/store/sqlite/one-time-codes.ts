/**
 * One-time codes (src/hub/domain/ports.ts, OneTimeCodeStore) in SQLite: table
 * `one_time_codes` (migration 9). A single hub needs no more than memory for them; the table
 * gives SQLite and PostgreSQL one behaviour and one contract suite.
 */
import type Database from 'better-sqlite3';
import type { OneTimeCodeKind } from '../../domain/ports.js';

export interface OneTimeCodesSync {
  insertOneTimeCode(code: { kind: OneTimeCodeKind; hash: string; payload: string; expiresAt: number }): void;
  takeOneTimeCode(kind: OneTimeCodeKind, hash: string, now: number): string | undefined;
  countOneTimeCodes(kind: OneTimeCodeKind, now: number): number;
}

export function oneTimeCodesSync(db: Database.Database): OneTimeCodesSync {
  const purge = db.prepare('DELETE FROM one_time_codes WHERE expires_at <= ?');
  const insert = db.prepare('INSERT INTO one_time_codes (hash, kind, payload, expires_at) VALUES (?, ?, ?, ?)');
  const take = db.prepare('DELETE FROM one_time_codes WHERE hash = ? AND kind = ? RETURNING payload, expires_at');
  const count = db.prepare('SELECT COUNT(*) AS n FROM one_time_codes WHERE kind = ? AND expires_at > ?');
  return {
    insertOneTimeCode(c) {
      purge.run(Date.now());
      insert.run(c.hash, c.kind, c.payload, c.expiresAt);
    },
    takeOneTimeCode(kind, hash, now) {
      const row = take.get(hash, kind) as { payload: string; expires_at: number } | undefined;
      return row && row.expires_at > now ? row.payload : undefined;
    },
    countOneTimeCodes(kind, now) {
      return (count.get(kind, now) as { n: number }).n;
    },
  };
}
