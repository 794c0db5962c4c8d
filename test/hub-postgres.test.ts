// A real hub (dist/hapi.cjs) on PostgreSQL (a throwaway cluster, test/pg-cluster.ts) with a
// real runner: machines and sessions listed, spawn and stop through the hub, the data kept
// across a hub restart (no second owner token, the same VAPID key pair, a mute kept), and no
// database write per alive message (the machine's row keeps its xmin, i.e. no new row
// version, while alive messages flow).
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { ChannelCredentials, createChannel } from 'nice-grpc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SessionState, StopSessionResult } from '../gen/hapi/common/v1/common.js';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, isAlive, waitFor, type TestHome } from './harness.js';
import { simRunner, startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';
import { startPgCluster } from './pg-cluster.js';
import { machineIdOf } from './runner-calls.js';

const cluster = await startPgCluster();
const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
const clients: pg.Client[] = [];

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const db of clients.splice(0)) await db.end().catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});
/** A hub on a database of its own, and a client of that database to look at its rows. */
async function hubOnNewDatabase(env: NodeJS.ProcessEnv = {}) {
  const url = await cluster!.createDatabase();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  clients.push(db);
  const th = createTestHome();
  homes.push(th);
  const h = await startHubProcess(th, { HAPI_HUB_DATABASE_URL: url, ...env });
  hubs.push(h);
  return { url, db, th, h };
}

afterAll(async () => {
  await cluster?.stop();
});

describe.skipIf(!cluster)('hub on PostgreSQL (HAPI_HUB_DATABASE_URL)', () => {
  it('serves a real runner: machines and sessions listed, spawn and stop work, data survives a restart, alive messages write nothing', async () => {
    // A short timeout: several alive messages arrive within a few seconds.
    const first = await hubOnNewDatabase({ HAPI_HUB_ALIVE_TIMEOUT_MS: '1500' });
    const { url, db, th } = first;
    const env = { HAPI_HUB_DATABASE_URL: url, HAPI_HUB_ALIVE_TIMEOUT_MS: '1500' };
    let h = first.h;
    expect(h.stdout()).toContain(`hub database: ${url}`);
    expect(existsSync(join(th.home, 'hub.db'))).toBe(false);
    const owner = h.ownerToken;

    const rt = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: owner, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
    homes.push(rt);
    const started = await rt.cli(['runner', 'start']);
    expect(started.code, started.stderr).toBe(0);
    const machineId = await machineIdOf(rt.home);
    let c = h.clients();
    await waitMachine(c, machineId, (m) => m.online);
    expect((await db.query('SELECT online FROM machines WHERE id = $1', [machineId])).rows).toEqual([{ online: 1 }]);

    // Alive messages only touch the hub's memory: the row gets no new version while the
    // machine stays online past two timeouts (so alive messages did arrive).
    const xmin = async () => (await db.query<{ xmin: string }>('SELECT xmin FROM machines WHERE id = $1', [machineId])).rows[0]!.xmin;
    await waitFor(async () => (await c.hub.listMachines({})).machines[0]?.runnerState !== undefined, 5_000);
    const before = await xmin();
    const until = Date.now() + 3_500;
    while (Date.now() < until) {
      expect((await c.hub.listMachines({})).machines.find((m) => m.id === machineId)?.online).toBe(true);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await xmin()).toBe(before);

    const spec = { directory: rt.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] };
    const r = await c.hub.spawnSession({ machineId, spec });
    expect(r.outcome?.result?.$case).toBe('session');
    const s = (r.outcome!.result as { value: { id: string; pid: number } }).value;
    expect(isAlive(s.pid)).toBe(true);
    expect((await c.hub.listSessions({ machineId, includeEnded: false })).sessions.map((x) => x.id)).toContain(s.id);
    expect((await db.query('SELECT state FROM sessions WHERE machine_id = $1 AND id = $2', [machineId, s.id])).rows).toEqual([{ state: 'running' }]);

    // Notification data lives in the database too: the VAPID key pair made at the first start
    // and a session's mute.
    const rest = async (path: string, body?: unknown) => {
      const res = await fetch(`${h.httpUrl}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${owner}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(res.status, path).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    const pushKey = (await rest('/api/v1/push/key')).publicKey;
    expect(pushKey).toMatch(/^[A-Za-z0-9_-]{80,}$/);
    await rest(`/api/v1/machines/${machineId}/sessions/${s.id}/mute`, { muted: true });
    expect((await db.query('SELECT public_key FROM push_vapid')).rows).toEqual([{ public_key: pushKey }]);

    // A restart on the same database: the same owner token, no new one printed, the runner back.
    expect(await h.stop('SIGTERM')).toBe(0);
    // On its way out the hub saved the machine offline before it closed its pool.
    expect((await db.query('SELECT online FROM machines WHERE id = $1', [machineId])).rows).toEqual([{ online: 0 }]);
    expect(`${h.stdout()}${h.stderr()}`).not.toMatch(/could not|Cannot use a pool/);
    const grpcPort = new URL(h.grpcUrl).port;
    h = await startHubProcess(th, { ...env, HAPI_HUB_GRPC_PORT: grpcPort }, owner);
    hubs.push(h);
    expect(h.stdout()).not.toContain('shown once');
    c = h.clients();
    await waitMachine(c, machineId, (m) => m.online, 20_000);
    expect((await c.hub.listSessions({ machineId, includeEnded: false })).sessions.map((x) => x.id)).toContain(s.id);
    expect((await rest('/api/v1/push/key')).publicKey).toBe(pushKey);
    expect((await rest('/api/v1/notifications/settings')).mutedSessions).toEqual([{ machineId, sessionId: s.id }]);

    expect((await c.hub.stopSession({ machineId, sessionId: s.id })).result).toBe(StopSessionResult.STOP_SESSION_RESULT_STOPPED);
    await waitFor(async () => {
      const all = await c.hub.listSessions({ machineId, includeEnded: true });
      return all.sessions.find((x) => x.id === s.id)?.state === SessionState.SESSION_STATE_ENDED;
    }, 10_000, 'session ended on the hub');
    expect((await db.query('SELECT COUNT(*)::int AS n FROM tokens WHERE owner = 1')).rows).toEqual([{ n: 1 }]);
    await rt.cli(['runner', 'stop']);
  });

  it('a hub stopped with many runner streams saves every machine offline before it closes its pool', async () => {
    const { db, h } = await hubOnNewDatabase();
    const channel = createChannel(new URL(h.grpcUrl).host, ChannelCredentials.createInsecure());
    const runners = Array.from({ length: 300 }, () => simRunner({ url: h.grpcUrl, token: h.ownerToken, machineId: randomUUID() }, channel));
    try {
      await Promise.all(runners.map((r) => r.welcome));
      expect((await db.query('SELECT COUNT(*)::int AS n FROM machines WHERE online = 1')).rows).toEqual([{ n: 300 }]);
      expect(await h.stop('SIGTERM')).toBe(0);
      expect((await db.query('SELECT COUNT(*)::int AS n FROM machines WHERE online = 1')).rows).toEqual([{ n: 0 }]);
      expect(`${h.stdout()}${h.stderr()}`).not.toMatch(/could not|Cannot use a pool|not saved at shutdown/);
    } finally {
      for (const r of runners) r.cancel();
      channel.close();
    }
  });
});
