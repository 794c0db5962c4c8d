// What a single hub kept in its own memory, shared by hub replicas on one PostgreSQL (issue 15):
// a one-time sign-in link made on A is redeemed on B, once; a web sign-in made on A works on B
// (no stale table read at start) and a sign-out on B ends it on A; an attach ticket asked for on
// A is taken on B, once; the sign-in rate limit's budget spent on A is spent on B. Three (or two) real hubs on one throwaway PostgreSQL (test/cluster-harness.ts).
import { request } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupAllHomes } from './harness.js';
import { startHubCluster, type HubCluster, type Replica } from './cluster-harness.js';
import { startPgCluster } from './pg-cluster.js';
import { startFakeTelegram } from './fake-telegram.js';
import { waitFor } from './harness.js';

const pgc = await startPgCluster();
let cluster: HubCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  await cleanupAllHomes();
});
afterAll(async () => {
  await pgc?.stop();
});

async function post(r: Replica, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${r.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: r.httpUrl, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined, cookie: res.headers.get('set-cookie')?.split(';')[0] };
}

async function session(r: Replica, cookie: string) {
  const res = await fetch(`${r.httpUrl}/auth/session`, { headers: { cookie } });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined };
}

/** A WebSocket upgrade request, as a browser sends it; resolves with the status (101 or a refusal). */
function upgrade(r: Replica, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${r.httpUrl}${path}`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', origin: r.httpUrl, 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 101);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!pgc)('hub replicas: state a single hub kept in memory', () => {
  it('a sign-in link made on A is redeemed on B, once: C and A refuse it afterwards', async () => {
    cluster = await startHubCluster(pgc!, { replicas: 3 });
    const [a, b, c] = cluster.replicas as [Replica, Replica, Replica];
    const link = await a.clients().tokens.createSignInLink({});
    expect((await post(b, '/auth/login', { code: link.code })).status).toBe(200);
    expect((await post(c, '/auth/login', { code: link.code })).status).toBe(401);
    expect((await post(a, '/auth/login', { code: link.code })).status).toBe(401);
  });

  it('a web sign-in made on A works on B; signing out on B ends it on A; an attach ticket from A is taken on B once', async () => {
    cluster = await startHubCluster(pgc!, { replicas: 2 });
    const [a, b] = cluster.replicas as [Replica, Replica];
    const signedIn = await post(a, '/auth/login', { token: cluster.ownerToken });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.cookie!;
    const csrf = String(signedIn.json!.csrfToken);
    // B started before this sign-in: it knows it from the table, not from what it read at start.
    expect((await session(b, cookie)).json).toMatchObject({ owner: true, namespace: 'default' });
    const machines = await fetch(`${b.httpUrl}/api/v1/machines`, { headers: { cookie } });
    expect(machines.status).toBe(200);

    // An attach ticket asked for on A; the WebSocket may reach B. Taken once (the session need
    // not exist for the ticket to be used up: the upgrade then fails on the session, not here).
    const t = await post(a, '/api/v1/attach-tickets', { machineId: 'm-none', sessionId: 's-none' }, { cookie, 'x-csrf-token': csrf });
    expect(t.status, JSON.stringify(t.json)).toBe(200);
    const ticket = String(t.json!.ticket);
    const db = await cluster.db();
    const rows = async () => Number((await db.query("SELECT COUNT(*) AS n FROM one_time_codes WHERE kind = 'attach-ticket'")).rows[0].n);
    expect(await rows()).toBe(1);
    // The socket is upgraded first and the ticket taken right after (attach-upgrade.ts).
    expect(await upgrade(b, `/api/v1/machines/m-none/sessions/s-none/attach?ticket=${encodeURIComponent(ticket)}`)).toBe(101);
    await waitFor(async () => (await rows()) === 0, 10_000, 'the ticket to be taken on B');

    // Sign out on B (which never saw the sign-in happen): A no longer accepts the cookie.
    expect((await post(b, '/auth/logout', {}, { cookie, 'x-csrf-token': csrf })).status).toBe(200);
    expect((await session(a, cookie)).status).toBe(401);
    expect((await session(b, cookie)).status).toBe(401);
  });

  it('sign-in attempts from one address share one budget across replicas: spent on A, spent on B', async () => {
    cluster = await startHubCluster(pgc!, { replicas: 2 });
    const [a, b] = cluster.replicas as [Replica, Replica];
    // The default limit per address: 20 at once, then one every 3 s (sign-in-limits.ts). Wrong
    // tokens, alternating A and B, until one refuses: one shared budget refuses after about 20
    // (plus what refilled while the attempts ran), one budget per replica only after 40.
    const started = Date.now();
    let answered = 0;
    let refused: Awaited<ReturnType<typeof fetch>> | undefined;
    for (let i = 0; i < 60 && !refused; i++) {
      const r = i % 2 === 0 ? a : b;
      const res = await fetch(`${r.httpUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: r.httpUrl }, body: JSON.stringify({ token: 'hapi_wrong' }) });
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(401);
        answered++;
      }
      await res.arrayBuffer();
    }
    const refilled = Math.floor((Date.now() - started) / 3_000) + 1;
    expect(refused, 'a replica refuses once the shared budget is spent').toBeDefined();
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(answered).toBeGreaterThanOrEqual(20);
    expect(answered).toBeLessThanOrEqual(20 + refilled);
    // The budget lives in the database, one row per limiter key.
    const db = await cluster.db();
    expect((await db.query("SELECT key FROM rate_limits WHERE key LIKE 'sign-in/address/%'")).rows).toHaveLength(1);
  });

  it('one replica at a time polls Telegram (an advisory lock); another takes over when it is killed', async () => {
    const tg = await startFakeTelegram();
    try {
      cluster = await startHubCluster(pgc!, { replicas: 3, env: { HAPI_TELEGRAM_BOT_TOKEN: '123456:AAE-test-token-of-the-fake-bot_0123456', HAPI_TELEGRAM_USERS: '42:default', HAPI_TELEGRAM_API_URL: tg.url } });
      const db = await cluster.db();
      const holder = async () => {
        const rows = (await db.query<{ application_name: string }>("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'hapi lock telegram-poller %'")).rows;
        return rows.map((r) => Number(r.application_name.split(' ').pop()));
      };
      const first = await waitFor(async () => (await holder()).length === 1 && (await holder())[0], 20_000, 'a replica to hold the poller lock');
      await waitFor(() => tg.callsOf('getUpdates').length >= 1, 20_000, 'the first getUpdates');
      // Every replica is up and has tried the lock (they try at start): still one long poll,
      // held open for 25 s by Telegram (here the fake); three pollers would have made three.
      await waitFor(async () => (await holder()).length === 1, 5_000, 'one lock holder');
      expect(tg.callsOf('getUpdates')).toHaveLength(1);
      const leader = cluster.replicas.find((r) => r.proc.pid === first)!;
      expect(leader).toBeDefined();
      const before = tg.callsOf('getUpdates').length;
      await leader.stop('SIGKILL');
      // Another replica takes the lock and polls (retries every 5 s).
      const next = await waitFor(async () => (await holder()).find((pid) => pid !== first), 30_000, 'another replica to take the poller lock');
      expect(cluster.replicas.some((r) => r.proc.pid === next && r !== leader)).toBe(true);
      await waitFor(() => tg.callsOf('getUpdates').length > before, 20_000, 'the new poller to call getUpdates');
      expect(await holder()).toEqual([next]);
    } finally {
      await tg.close();
    }
  });
});
