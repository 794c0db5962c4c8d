/**
 * A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, `postgres` on a
 * free 127.0.0.1 port with its Unix socket in that directory, stopped and removed by `stop()`
 * (and, should the test process die first, by postgres itself: it shuts down once its data
 * directory's lock file is gone). PostgreSQL refuses to run as root, so as root it runs as an
 * unprivileged system user (`hapi-pg`, created when missing) that owns the directory.
 *
 * `startPgCluster()` resolves to undefined, after printing a loud message, only when no
 * PostgreSQL can be started here; callers skip their tests then (`describe.skipIf`).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The unprivileged user the cluster runs as when the tests run as root. */
export const PG_TEST_USER = 'hapi-pg';

export interface PgCluster {
  /** postgres://hapi@127.0.0.1:PORT/postgres (trust authentication, superuser `hapi`). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops postgres (fast shutdown, SIGKILL after a grace) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** The directory holding initdb, pg_ctl and postgres, or undefined. */
export function findPgBin(): string | undefined {
  const candidates: string[] = [];
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) candidates.push(onPath.replace(/\/initdb$/, ''));
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // No Debian layout.
  }
  return candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** uid/gid of the user to run as (root only), creating the system user when missing. */
function runAsUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => spawnSync('id', ['-u', PG_TEST_USER], { encoding: 'utf8' });
  if (lookup().status !== 0) {
    // Two test files may race here: "already exists" (exit 9) is as good as success.
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', PG_TEST_USER], { encoding: 'utf8' });
    if (r.status !== 0 && r.status !== 9) throw new Error(`useradd ${PG_TEST_USER} failed: ${r.stderr || r.error}`);
  }
  const uid = Number(execFileSync('id', ['-u', PG_TEST_USER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', PG_TEST_USER], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function loud(message: string): void {
  const bar = '!'.repeat(100);
  process.stderr.write(`\n${bar}\n!!! POSTGRESQL TESTS SKIPPED: ${message}\n${bar}\n\n`);
}

async function waitReady(url: string, child: ChildProcess, logOf: () => string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}): ${logOf()}`);
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (Date.now() > until) throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${String(err)}; ${logOf()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Clusters not stopped yet, with what a synchronous last-resort cleanup needs. */
const running = new Map<PgCluster, () => void>();
process.on('exit', () => {
  // Last resort when a test process ends without stop(): kill postgres and remove its files.
  for (const kill of running.values()) kill();
});

/** Starts a cluster, or returns undefined (after a loud message) when PostgreSQL cannot start here. */
export async function startPgCluster(): Promise<PgCluster | undefined> {
  const bin = findPgBin();
  if (!bin) {
    loud('no initdb/postgres found (PATH, /usr/lib/postgresql/*/bin); install Debian\'s postgresql (.ci/run does)');
    return undefined;
  }
  let user: { uid: number; gid: number } | undefined;
  try {
    user = runAsUser();
  } catch (err) {
    loud(String(err));
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'hapi-pg-'));
  const data = join(dir, 'data');
  // Node's spawn drops to the user itself, so the child is postgres (signals reach it).
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
  }
  let child: ChildProcess | undefined;
  let stderr = '';
  let stopped = false;
  const cluster: PgCluster = {
    url: '',
    port: 0,
    dir,
    async createDatabase(name = `t_${Math.random().toString(36).slice(2, 10)}`) {
      const c = new pg.Client({ connectionString: cluster.url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return cluster.url.replace(/\/postgres$/, `/${name}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(cluster);
      const p = child;
      if (p && p.exitCode === null && p.signalCode === null) {
        const exited = new Promise<void>((r) => p.once('exit', () => r()));
        // SIGINT is postgres' fast shutdown (no checkpoint worth waiting for).
        p.kill('SIGINT');
        const grace = setTimeout(() => p.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(grace);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.set(cluster, () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const initArgs = ['-D', data, '-U', 'hapi', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'];
    const init = spawnSync(join(bin, 'initdb'), initArgs, { encoding: 'utf8', cwd: dir, ...ids });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || init.error}`);
    writeFileSync(join(data, 'postgresql.auto.conf'), 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n', { flag: 'a' });
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const url = `postgres://hapi@127.0.0.1:${port}/postgres`;
      const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'];
      stderr = '';
      child = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...ids });
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
      try {
        await waitReady(url, child, () => stderr);
        Object.assign(cluster, { url, port });
        return cluster;
      } catch (err) {
        // The port may have been taken between freePort() and postgres binding it: try another.
        if (attempt >= 2 || !/could not (bind|create listen)/i.test(stderr)) throw err;
      }
    }
  } catch (err) {
    await cluster.stop();
    loud(`PostgreSQL could not start: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}
