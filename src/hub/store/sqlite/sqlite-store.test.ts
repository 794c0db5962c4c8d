import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { HubStore } from '../../domain/ports.js';
import { describeHubStore } from '../store-suite.js';
import { migrate } from './migrations.js';
import { openHubStore } from './sqlite-store.js';

describeHubStore('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-store-'));
  const path = join(dir, 'hub.db');
  let store: HubStore = openHubStore(path);
  return {
    store,
    reopen() {
      store.close();
      return (store = openHubStore(path));
    },
    dispose() {
      store.close();
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
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: version }, (_, i) => i + 1));
    db.close();
  });
});
