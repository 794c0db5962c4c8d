// The hub's SQLite files are private (0600) whatever the umask and the HAPI_HOME's own mode.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAllHomes, createTestHome, type TestHome } from './harness.js';
import { startHubProcess } from './hub-helpers.js';

let th: TestHome | undefined;
afterEach(async () => {
  await th?.cleanup();
  th = undefined;
});
afterAll(cleanupAllHomes);

const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe('hub database files', () => {
  it('are created 0600 in an existing 0755 HAPI_HOME, and an older 0644 database is tightened', async () => {
    th = createTestHome();
    chmodSync(th.home, 0o755);
    const files = ['hub.db', 'hub.db-wal', 'hub.db-shm'].map((f) => join(th!.home, f));
    const hub = await startHubProcess(th);
    try {
      // The migrations wrote, so WAL and shared memory files exist while the hub runs.
      expect(files.map(modeOf)).toEqual(['600', '600', '600']);
    } finally {
      await hub.stop();
    }

    // A database left world-readable by an older hub is made private on the next start.
    chmodSync(files[0]!, 0o644);
    const again = await startHubProcess(th, {}, hub.ownerToken);
    try {
      expect(files.map(modeOf)).toEqual(['600', '600', '600']);
    } finally {
      await again.stop();
    }
  });
});
