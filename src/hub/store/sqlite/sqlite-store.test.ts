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
});
