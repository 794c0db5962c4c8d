// A locked database never crashes the hub: another process holds an exclusive write lock on
// hub.db (BEGIN EXCLUSIVE) for longer than the busy timeout while a real hub runs its sweeper
// (a runner killed with -9, a machine that stops sending alive) and serves calls. The hub stays
// up, reads keep working, writes answer UNAVAILABLE, and everything is saved once the lock goes.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Status } from 'nice-grpc';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, REPO_ROOT, waitFor, type TestHome } from './harness.js';
import { machineIdOf } from './runner-calls.js';
import { simRunner, startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

/** Another process holding `BEGIN EXCLUSIVE` on the database until `release()`. */
async function lockDatabase(path: string) {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(path)});
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.stdout.write('released\\n'); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await waitFor(() => out.includes('locked'), 10_000, 'the exclusive lock');
  const since = Date.now();
  return {
    since,
    async release() {
      child.stdin!.write('go\n');
      await waitFor(() => out.includes('released'), 10_000, 'the lock to be released');
    },
  };
}

describe('hub with a locked database', () => {
  it('stays up while another process write-locks hub.db: reads work, writes answer UNAVAILABLE, all is saved after', async () => {
    const hubTh = createTestHome();
    homes.push(hubTh);
    const h = await startHubProcess(hubTh, { HAPI_HUB_ALIVE_TIMEOUT_MS: '1500' });
    hubs.push(h);
    const dbPath = join(hubTh.home, 'hub.db');
    const c = h.clients();

    // A real runner, and a simulated machine that will stop sending alive messages.
    const runnerTh = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
    homes.push(runnerTh);
    expect((await runnerTh.cli(['runner', 'start'])).code).toBe(0);
    const runnerPid = runnerTh.state()!.pid;
    const runnerId = await machineIdOf(runnerTh.home);
    await waitMachine(c, runnerId, (m) => m.online);
    const silent = simRunner({ url: h.grpcUrl, token: h.ownerToken, machineId: 'silent-machine' });
    await silent.welcome;

    const lock = await lockDatabase(dbPath);
    // The sweeper must record two machines offline while it cannot write: one whose runner
    // was killed (its stream closes), one whose alive messages stopped (the timeout).
    process.kill(runnerPid, 'SIGKILL');
    await waitMachine(c, runnerId, (m) => !m.online, 15_000);
    await waitMachine(c, 'silent-machine', (m) => !m.online, 15_000);
    await waitFor(() => ((h.stdout() + h.stderr()).match(/could not save presence/g)?.length ?? 0) >= 2, 15_000, 'two failed presence writes');

    // Writes answer UNAVAILABLE; a runner's hello too (it retries later).
    await expect(c.tokens.createToken({ namespace: 'team', label: 'x' })).rejects.toMatchObject({ code: Status.UNAVAILABLE });
    const newcomer = simRunner({ url: h.grpcUrl, token: h.ownerToken, machineId: 'newcomer' });
    await expect(newcomer.welcome).rejects.toMatchObject({ code: Status.UNAVAILABLE });
    // The lock outlived the busy timeout many times over, and the hub is still there.
    expect(Date.now() - lock.since).toBeGreaterThan(2_000);
    expect(h.proc.exitCode).toBeNull();
    expect(h.proc.signalCode).toBeNull();

    await lock.release();
    // The offline marks reach the database by themselves (retried with backoff).
    const db = new Database(dbPath, { readonly: true });
    try {
      await waitFor(() => {
        const rows = db.prepare('SELECT id, online FROM machines').all() as { id: string; online: number }[];
        return rows.length === 2 && rows.every((r) => r.online === 0);
      }, 45_000, 'offline marks saved');
    } finally {
      db.close();
    }
    expect((await c.tokens.createToken({ namespace: 'team', label: 'x' })).namespace).toBe('team');
    const back = simRunner({ url: h.grpcUrl, token: h.ownerToken, machineId: 'newcomer' });
    await back.welcome;
    await waitMachine(c, 'newcomer', (m) => m.online);
    back.cancel();
    silent.cancel();
    expect(h.proc.exitCode).toBeNull();
  }, 120_000);
});
