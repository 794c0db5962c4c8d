// Several hub replicas (dist/hapi.cjs) on one throwaway PostgreSQL (test/pg-cluster.ts): the
// registry, the peer port and its cluster secret, machine ownership with epochs and fencing,
// calls forwarded to the owner (spawn idempotent by request id across replicas, stop, status),
// a runner with several hub addresses failing over after kill -9 of its replica, and a draining
// replica (SIGTERM) sending its runner to another one.
import { createChannel, createClient, ChannelCredentials, Metadata, ClientError, Status } from 'nice-grpc';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PeerServiceDefinition } from '../gen/hapi/hub/peer/v1/peer.js';
import { SessionState, StopSessionResult } from '../gen/hapi/common/v1/common.js';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, isAlive, waitFor, type TestHome } from './harness.js';
import { simRunner, startHubProcess, waitMachine, type HubProcess, type SimRunner } from './hub-helpers.js';
import { startPgCluster } from './pg-cluster.js';
import { machineIdOf } from './runner-calls.js';
import { hubViewer, input, TUI_AGENT, type Tracked } from './hub-viewer.js';

const cluster = await startPgCluster();
const SECRET = 'test-cluster-secret-0123456789abcdef';
const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
const sims: SimRunner[] = [];

const tracked: Tracked = { homes, hubs, closers: [] };

afterEach(async () => {
  for (const close of tracked.closers.splice(0)) close();
  for (const s of sims.splice(0)) s.cancel();
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});
afterAll(async () => {
  await cluster?.stop();
});

interface Replica extends HubProcess {
  peerAddr: string;
  replicaId: string;
}

/** Starts one replica on `url` (its own HAPI_HOME, random ports). */
async function startReplica(url: string, ownerToken?: string, extra: NodeJS.ProcessEnv = {}): Promise<Replica> {
  const th = createTestHome();
  homes.push(th);
  const env = { HAPI_HUB_DATABASE_URL: url, HAPI_HUB_PEER_ADDR: '127.0.0.1:0', HAPI_HUB_CLUSTER_SECRET: SECRET, ...extra };
  const h = await startHubProcess(th, env, ownerToken);
  hubs.push(h);
  const m = await waitFor(() => /hub peer service listening on (\S+)\s+\(replica (\S+);/.exec(h.stdout()), 10_000, 'peer line');
  return Object.assign(h, { peerAddr: m[1]!, replicaId: m[2]! });
}

async function withDb<T>(url: string, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

const ownerOf = (db: pg.Client, machineId: string) =>
  db.query<{ owner_replica: string; owner_epoch: string; online: number }>('SELECT owner_replica, owner_epoch, online FROM machines WHERE id = $1', [machineId]).then((r) => r.rows[0]);

describe.skipIf(!cluster)('several hub replicas on PostgreSQL', () => {
  it('refuses to start a replica without the cluster secret, and a peer address without PostgreSQL', async () => {
    const th = createTestHome();
    homes.push(th);
    const url = await cluster!.createDatabase();
    const noSecret = await th.cli(['hub'], { env: { HAPI_HUB_DATABASE_URL: url, HAPI_HUB_PEER_ADDR: '127.0.0.1:0', HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0' } });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/HAPI_HUB_CLUSTER_SECRET is required with HAPI_HUB_PEER_ADDR/);
    const noDb = await th.cli(['hub'], { env: { HAPI_HUB_PEER_ADDR: '127.0.0.1:0', HAPI_HUB_CLUSTER_SECRET: SECRET, HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0' } });
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toMatch(/HAPI_HUB_PEER_ADDR needs HAPI_HUB_DATABASE_URL/);
  });

  it('registers replicas, guards the peer port with the cluster secret, forwards calls to the owner and fences a stale owner', async () => {
    const url = await cluster!.createDatabase();
    const a = await startReplica(url);
    const b = await startReplica(url, a.ownerToken);
    await withDb(url, async (db) => {
      const rows = (await db.query<{ id: string; peer_addr: string }>('SELECT id, peer_addr FROM hub_replicas ORDER BY id')).rows;
      expect(rows.map((r) => r.id).sort()).toEqual([a.replicaId, b.replicaId].sort());
      expect(rows.find((r) => r.id === a.replicaId)?.peer_addr).toBe(a.peerAddr);
    });

    // The peer port: no secret, a wrong one, or a client's token instead -> UNAUTHENTICATED.
    const ch = createChannel(a.peerAddr, ChannelCredentials.createInsecure());
    try {
      const peer = createClient(PeerServiceDefinition, ch);
      const req = { namespace: 'default', machineId: 'm', epoch: 0, call: { requestId: '', deadline: new Date(Date.now() + 5_000), method: { $case: 'getStatus' as const, value: {} } } };
      for (const metadata of [Metadata(), Metadata({ 'x-hapi-cluster-secret': `${SECRET}x` }), Metadata({ authorization: `Bearer ${a.ownerToken}` })]) {
        const err = await peer.relay(req, { metadata }).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(ClientError);
        expect((err as ClientError).code).toBe(Status.UNAUTHENTICATED);
      }
      // The right secret passes (and the machine is simply not held there).
      const err = await peer.relay(req, { metadata: Metadata({ 'x-hapi-cluster-secret': SECRET }) }).then(() => undefined, (e: unknown) => e);
      expect((err as ClientError).code).toBe(Status.UNAVAILABLE);
    } finally {
      ch.close();
    }
    // ...and the runners' and clients' port does not serve the peer service at all.
    const onMain = createChannel(new URL(a.grpcUrl).host, ChannelCredentials.createInsecure());
    try {
      const err = await createClient(PeerServiceDefinition, onMain)
        .relay({ namespace: 'default', machineId: 'm', epoch: 0 }, { metadata: Metadata({ 'x-hapi-cluster-secret': SECRET, authorization: `Bearer ${a.ownerToken}` }) })
        .then(() => undefined, (e: unknown) => e);
      expect((err as ClientError).code).toBe(Status.UNIMPLEMENTED);
    } finally {
      onMain.close();
    }

    // A real runner on replica A; every call made on replica B is forwarded to A.
    const rt = createTestHome({ HAPI_API_URL: a.grpcUrl, CLI_API_TOKEN: a.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
    homes.push(rt);
    expect((await rt.cli(['runner', 'start'])).code).toBe(0);
    const machineId = await machineIdOf(rt.home);
    const cb = b.clients();
    await waitMachine(cb, machineId, (m) => m.online, 20_000);
    await withDb(url, async (db) => expect((await ownerOf(db, machineId))?.owner_replica).toBe(a.replicaId));

    expect((await cb.hub.getRunnerStatus({ machineId })).pid).toBeGreaterThan(0);
    const spec = { directory: rt.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: 'req-cluster-1', agentArgs: [] };
    const first = await cb.hub.spawnSession({ machineId, spec });
    expect(first.outcome?.result?.$case).toBe('session');
    const s = (first.outcome!.result as { value: { id: string; pid: number } }).value;
    expect(isAlive(s.pid)).toBe(true);
    // The same request id on the other replica: the same session, not a second one.
    const again = await a.clients().hub.spawnSession({ machineId, spec });
    expect((again.outcome!.result as { value: { id: string } }).value.id).toBe(s.id);
    const live = await cb.hub.listSessions({ machineId, includeEnded: false });
    expect(live.sessions.map((x) => x.id)).toEqual([s.id]);
    expect((await cb.hub.stopSession({ machineId, sessionId: s.id })).result).toBe(StopSessionResult.STOP_SESSION_RESULT_STOPPED);
    await waitFor(async () => (await cb.hub.listSessions({ machineId, includeEnded: true })).sessions.find((x) => x.id === s.id)?.state === SessionState.SESSION_STATE_ENDED, 15_000, 'session ended');
    expect((await rt.cli(['runner', 'stop'])).code).toBe(0);
    await waitMachine(cb, machineId, (m) => !m.online, 15_000);

    // Fencing: a stream on A, then the same machine (same install) connects to B: B owns it
    // with a higher epoch, and A's next write for it is refused and its stream dropped.
    const sim = { token: a.ownerToken, machineId: 'fenced-machine', installFingerprint: 'fp-1' };
    const onA = simRunner({ ...sim, url: a.grpcUrl });
    sims.push(onA);
    await onA.welcome;
    const epochA = await withDb(url, async (db) => Number((await ownerOf(db, sim.machineId))!.owner_epoch));
    const onB = simRunner({
      ...sim,
      url: b.grpcUrl,
      onRpc: (req) => (req.method?.$case === 'getStatus' ? { $case: 'getStatus', value: { pid: 77, cliVersion: 'test', sessionCount: 0, startedAt: new Date() } } : undefined),
    });
    sims.push(onB);
    await onB.welcome;
    await withDb(url, async (db) => {
      const o = await ownerOf(db, sim.machineId);
      expect(o?.owner_replica).toBe(b.replicaId);
      expect(Number(o?.owner_epoch)).toBe(epochA + 1);
    });
    onA.send({ $case: 'updateMetadata', value: { expectedVersion: 1, metadata: { hostname: 'stale', platform: 'linux', arch: 'x64', cliVersion: 'test', displayName: 'stale', homeDir: '/h', agents: [] } } });
    const ended = await onA.ended;
    expect((ended as ClientError).code).toBe(Status.ABORTED);
    expect(onA.received.some((m) => m.message?.$case === 'updateResult')).toBe(false);
    await withDb(url, async (db) => {
      const o = await ownerOf(db, sim.machineId);
      expect(o?.owner_replica).toBe(b.replicaId);
      expect(o?.online).toBe(1);
      const meta = JSON.parse((await db.query<{ metadata: string }>('SELECT metadata FROM machines WHERE id = $1', [sim.machineId])).rows[0]!.metadata);
      expect(meta.hostname).not.toBe('stale');
    });
    // A, no longer holding it, forwards a call for it to B (the sim answers status).
    const ca = a.clients();
    expect((await ca.hub.listMachines({})).machines.find((m) => m.id === sim.machineId)?.online).toBe(true);
    expect((await ca.hub.getRunnerStatus({ machineId: sim.machineId })).pid).toBe(77);
  });

  it('a runner with several hub addresses moves to another replica after kill -9 of its own, and off a draining one at once', async () => {
    const url = await cluster!.createDatabase();
    const a = await startReplica(url);
    const b = await startReplica(url, a.ownerToken);
    const c = await startReplica(url, a.ownerToken);
    const rt = createTestHome({ HAPI_API_URL: `${a.grpcUrl},${b.grpcUrl},${c.grpcUrl}`, CLI_API_TOKEN: a.ownerToken });
    homes.push(rt);
    expect((await rt.cli(['runner', 'start'])).code).toBe(0);
    const machineId = await machineIdOf(rt.home);
    const cc = c.clients();
    await waitMachine(cc, machineId, (m) => m.online, 20_000);
    const first = await withDb(url, (db) => ownerOf(db, machineId));
    expect(first?.owner_replica).toBe(a.replicaId);

    // kill -9 of the owner: the runner is online on another replica (one owner, a higher epoch).
    const killedAt = Date.now();
    a.proc.kill('SIGKILL');
    const moved = await waitFor(
      () => withDb(url, async (db) => {
        const o = await ownerOf(db, machineId);
        return o && o.online === 1 && o.owner_replica !== a.replicaId ? o : undefined;
      }),
      20_000,
      'machine claimed by another replica',
    );
    const failoverMs = Date.now() - killedAt;
    console.log(`failover after kill -9: machine online on ${moved.owner_replica} after ${failoverMs} ms`);
    expect(failoverMs).toBeLessThan(10_000);
    expect(Number(moved.owner_epoch)).toBeGreaterThan(Number(first!.owner_epoch));
    expect((await cc.hub.listMachines({})).machines.filter((m) => m.id === machineId)).toHaveLength(1);
    expect((await cc.hub.getRunnerStatus({ machineId })).pid).toBeGreaterThan(0);

    // SIGTERM of the new owner: it drains, the runner moves to the last replica, and the machine
    // never shows offline there on the way (the replica sent it off before closing).
    const owner = [b, c].find((h) => h.replicaId === moved.owner_replica)!;
    const other = owner === b ? c : b;
    const stopped = owner.stop('SIGTERM');
    const drained = await waitFor(
      () => withDb(url, async (db) => {
        const o = await ownerOf(db, machineId);
        return o && o.online === 1 && o.owner_replica === other.replicaId ? o : undefined;
      }),
      20_000,
      'machine claimed by the remaining replica',
    );
    expect(Number(drained.owner_epoch)).toBeGreaterThan(Number(moved.owner_epoch));
    expect(await stopped).toBe(0);
    expect(owner.stderr() + owner.stdout()).not.toMatch(/drain timed out/);
    await waitMachine(other.clients(), machineId, (m) => m.online, 10_000);
    await rt.cli(['runner', 'stop']);
  });

  it('a viewer on one replica attaches to a session whose runner is on another, and keeps its stream when that replica dies', async () => {
    const url = await cluster!.createDatabase();
    const a = await startReplica(url);
    const b = await startReplica(url, a.ownerToken);
    const c = await startReplica(url, a.ownerToken);
    const rt = createTestHome({ HAPI_API_URL: `${a.grpcUrl},${c.grpcUrl}`, CLI_API_TOKEN: a.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${TUI_AGENT}` });
    homes.push(rt);
    expect((await rt.cli(['runner', 'start'])).code).toBe(0);
    const machineId = await machineIdOf(rt.home);
    const cb = b.clients();
    await waitMachine(cb, machineId, (m) => m.online, 20_000);
    await withDb(url, async (db) => expect((await ownerOf(db, machineId))?.owner_replica).toBe(a.replicaId));
    const spawned = await cb.hub.spawnSession({ machineId, spec: { directory: rt.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } });
    const sessionId = spawned.outcome?.result?.$case === 'session' ? spawned.outcome.result.value.id : '';
    expect(sessionId).toBeTruthy();

    // The screen, read on B, comes from A.
    await waitFor(async () => (await cb.hub.getSessionScreen({ machineId, sessionId }).catch(() => undefined))?.screen?.screen?.text.includes('fixture tui'), 20_000, 'the agent on the screen');
    // The viewer is on B; the session's runner on A: the attach goes B -> A (peer) -> runner.
    const v = hubViewer(tracked, () => cb, machineId, sessionId);
    await waitFor(() => v.current().messages[0]?.kind?.$case === 'snapshot', 20_000, 'the snapshot through B');
    v.send(input('a'));
    await waitFor(() => v.text().includes('got "a"'), 15_000, 'the echo through two replicas');

    // A dies; the runner moves to C; B's relay resumes through C on the same viewer stream.
    a.proc.kill('SIGKILL');
    await waitFor(
      () => withDb(url, async (db) => {
        const o = await ownerOf(db, machineId);
        return o?.online === 1 && o.owner_replica === c.replicaId;
      }),
      20_000,
      'the runner on C',
    );
    await waitFor(async () => {
      v.send(input('b'));
      return waitFor(() => v.text().includes('got "b"'), 2_000, 'echo').then(() => true, () => false);
    }, 30_000, 'the echo through C on the same viewer stream');
    expect(v.streams).toHaveLength(1);
    expect(v.current().done).toBe(false);
    await rt.cli(['runner', 'stop']);
  });

  it("a replica starting leaves the other replicas' machines online; a dead replica's machines go offline after its missed heartbeats", async () => {
    const url = await cluster!.createDatabase();
    const a = await startReplica(url);
    const b = await startReplica(url, a.ownerToken);
    const sim = simRunner({ url: a.grpcUrl, token: a.ownerToken, machineId: 'orphan-to-be' });
    sims.push(sim);
    await sim.welcome;
    // A replica starting now must not mark A's machine offline (a single hub marks all offline at start).
    const c = await startReplica(url, a.ownerToken);
    await withDb(url, async (db) => expect(await ownerOf(db, 'orphan-to-be')).toMatchObject({ owner_replica: a.replicaId, online: 1 }));
    expect((await c.clients().hub.listMachines({})).machines.find((m) => m.id === 'orphan-to-be')?.online).toBe(true);

    // A dies and its runner never comes back: after 3 missed heartbeats (15 s) a live replica marks it offline.
    a.proc.kill('SIGKILL');
    await waitMachine(b.clients(), 'orphan-to-be', (m) => !m.online, 40_000);
    await withDb(url, async (db) => {
      expect((await ownerOf(db, 'orphan-to-be'))?.online).toBe(0);
      const { rows } = await db.query<{ id: string }>('SELECT id FROM hub_replicas ORDER BY id');
      expect(rows.map((r) => r.id)).toContain(a.replicaId);
    });
  });
});
