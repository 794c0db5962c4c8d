import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { HubStore } from '../../domain/ports.js';
import { describeHubStore } from '../store-suite.js';
import { migrate, migrateTo, MIGRATION_VERSIONS } from './migrations.js';
import { openHubStore } from './sqlite-store.js';

describeHubStore('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-store-'));
  const path = join(dir, 'hub.db');
  let store: HubStore = openHubStore(path);
  return {
    store,
    async reopen() {
      await store.close();
      return (store = openHubStore(path));
    },
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite migrations', () => {
  it('run once: migrating again changes nothing', () => {
    const db = new Database(':memory:');
    const version = migrate(db);
    expect(migrate(db)).toBe(version);
    const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
    expect(rows.map((r) => r.version)).toEqual(MIGRATION_VERSIONS);
    expect(version).toBe(MIGRATION_VERSIONS.at(-1));
    db.close();
  });

  it('version 3: tokens made before scopes keep full scope; the column takes nothing else', () => {
    const db = new Database(':memory:');
    // A database as version 2 left it, with an owner and a namespace token.
    migrateTo(db, 2);
    db.exec("INSERT INTO namespaces VALUES ('default', 0), ('team', 0)");
    db.exec("INSERT INTO tokens (id, namespace, hash, label, owner, created_at) VALUES ('tok_o', 'default', 'h1', 'owner', 1, 1), ('tok_t', 'team', 'h2', '', 0, 2)");
    expect(migrate(db)).toBeGreaterThanOrEqual(3);
    const rows = db.prepare('SELECT id, scope FROM tokens ORDER BY id').all();
    expect(rows).toEqual([{ id: 'tok_o', scope: 'full' }, { id: 'tok_t', scope: 'full' }]);
    expect(() => db.exec("UPDATE tokens SET scope = 'admin' WHERE id = 'tok_t'")).toThrow(/CHECK/);
    db.close();
  });

  it('version 8: decisions recorded before keep their rows and seq; Telegram and push origins are taken, others not', () => {
    const db = new Database(':memory:');
    migrateTo(db, 7);
    const insert = (seq: number | null, origin: string) =>
      db.prepare("INSERT INTO approval_decisions VALUES (?, 'default', 'm1', 's1', 'r', '{}', 'allow', '', 't', 'who', ?, 1)").run(seq, origin);
    insert(7, 'page');
    insert(8, 'cli');
    expect(() => insert(null, 'telegram')).toThrow(/CHECK/);
    migrate(db);
    insert(null, 'telegram');
    insert(null, 'push');
    expect(() => insert(null, 'fax')).toThrow(/CHECK/);
    const rows = db.prepare('SELECT seq, origin FROM approval_decisions ORDER BY seq').all();
    expect(rows).toEqual([{ seq: 7, origin: 'page' }, { seq: 8, origin: 'cli' }, { seq: 9, origin: 'telegram' }, { seq: 10, origin: 'push' }]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'approval_decisions'").all()).toEqual([{ name: 'approval_decisions_session' }]);
    db.close();
  });
});
