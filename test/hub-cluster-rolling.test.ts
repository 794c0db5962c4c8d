// A rolling restart of three hub replicas on one PostgreSQL under a steady stream of spawn
// requests (issue 15, "Tests"): three real runners spread over the replicas (HAPI_API_URL a
// list of all three, each starting on a different one), two clients sending spawns with their
// own request ids to replicas that are up and retrying with the same id on UNAVAILABLE (a
// replica draining, a runner between replicas, a connection refused), while each replica in
// turn gets SIGTERM (it drains its runners to another replica) and starts again on its ports.
// At the end every request succeeded or failed with a clear gRPC status, no request id made two
// sessions, every session is listed once on every replica, every machine has one live owner and
// every runner is online and reachable through every replica.
import { ClientError, Status } from 'nice-grpc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SessionState } from '../gen/hapi/common/v1/common.js';
import type { HubClients } from '../src/shared/hub-client.js';
import { startHubCluster, type HubCluster, type Replica } from './cluster-harness.js';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, isAlive, sleep, waitFor, type TestHome } from './harness.js';
import { waitMachine } from './hub-helpers.js';
import { startPgCluster } from './pg-cluster.js';
import { machineIdOf } from './runner-calls.js';

const pgc = await startPgCluster();
let cluster: HubCluster | undefined;
const runners: TestHome[] = [];

afterEach(async () => {
  for (const rt of runners.splice(0)) await rt.cleanup();
  await cluster?.stop();
  cluster = undefined;
  await cleanupAllHomes();
});
afterAll(async () => {
  await pgc?.stop();
});

/** The id a replica registered under (printed at start). */
const replicaIdOf = (r: Replica) => waitFor(() => /hub peer service listening on \S+\s+\(replica ([^;\s]+);/.exec(r.stdout())?.[1], 10_000, `${r.name}'s replica id`);

/** What became of one spawn request, over all its attempts. */
interface Outcome {
  requestId: string;
  machineId: string;
  attempts: number;
  /** Replica names tried, in order. */
  via: string[];
  sessionId?: string;
  /** The final error when it did not succeed. */
  error?: unknown;
  /** Every attempt's error, for the log. */
  errors: string[];
}

/** Retried with the same request id: the replica or the runner's link to it was going away. */
const RETRYABLE = new Set([Status.UNAVAILABLE]);

describe.skipIf(!pgc)('hub replicas: a rolling restart under load', () => {
  it('restarts each of three replicas in turn under a steady stream of spawns: nothing lost, nothing applied twice, one owner per machine', async () => {
    cluster = await startHubCluster(pgc!, { replicas: 3 });
    const hubs = cluster;
    const urls = hubs.replicas.map((r) => r.grpcUrl);

    // Three runners, each with the three addresses, the i-th starting on replica i.
    const machines: { id: string; home: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const list = [...urls.slice(i), ...urls.slice(0, i)].join(',');
      const rt = createTestHome({ HAPI_API_URL: list, CLI_API_TOKEN: hubs.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
      runners.push(rt);
      expect((await rt.cli(['runner', 'start'])).code).toBe(0);
      machines.push({ id: await machineIdOf(rt.home), home: rt.home });
    }
    const db = await hubs.db();
    const owners = () => db.query<{ id: string; owner_replica: string | null; online: number }>('SELECT id, owner_replica, online FROM machines ORDER BY id').then((r) => r.rows);
    const liveIds = async () => new Set((await db.query<{ id: string }>('SELECT id FROM hub_replicas')).rows.map((r) => r.id));
    const startIds = await Promise.all(hubs.replicas.map(replicaIdOf));
    await waitFor(async () => {
      const rows = await owners();
      return rows.length === 3 && rows.every((m) => m.online === 1) && new Set(rows.map((m) => m.owner_replica)).size === 3;
    }, 30_000, 'three runners online, one on each replica');
    expect(new Set((await owners()).map((m) => m.owner_replica))).toEqual(new Set(startIds));

    // Clients per replica process: a restarted replica gets fresh ones.
    const clientsOf = new Map<Replica, HubClients>();
    const clients = (r: Replica) => clientsOf.get(r) ?? (clientsOf.set(r, r.clients()), clientsOf.get(r)!);
    const down = new Set<string>();
    let turn = 0;
    const upReplica = () => {
      const up = hubs.replicas.filter((r) => !down.has(r.name));
      return up[turn++ % up.length]!;
    };

    const outcomes: Outcome[] = [];
    let sent = 0;
    let stopping = false;
    async function spawnOne(): Promise<void> {
      const n = sent++;
      const machine = machines[n % machines.length]!;
      const o: Outcome = { requestId: `rolling-${n}-${Math.random().toString(36).slice(2, 8)}`, machineId: machine.id, attempts: 0, via: [], errors: [] };
      outcomes.push(o);
      const giveUpAt = Date.now() + 45_000;
      for (;;) {
        const r = upReplica();
        o.attempts++;
        o.via.push(r.name);
        try {
          const res = await clients(r).hub.spawnSession({
            machineId: machine.id,
            spec: { directory: machine.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: o.requestId, agentArgs: [] },
          }, { signal: AbortSignal.timeout(40_000) });
          if (res.outcome?.result?.$case !== 'session') throw new Error(`unexpected outcome ${JSON.stringify(res.outcome)}`);
          const id = res.outcome.result.value.id;
          // An earlier attempt may have been applied: the retry must name the same session.
          if (o.sessionId !== undefined && o.sessionId !== id) throw new Error(`request ${o.requestId} made ${o.sessionId} and ${id}`);
          o.sessionId = id;
          delete o.error;
          return;
        } catch (err) {
          o.error = err;
          o.errors.push(`${r.name}: ${String(err)}`);
          if (!(err instanceof ClientError) || !RETRYABLE.has(err.code) || Date.now() > giveUpAt) return;
          await sleep(100);
        }
      }
    }
    const successes = () => outcomes.filter((o) => o.sessionId !== undefined && o.error === undefined).length;
    // Two clients, each sending its next request once the previous one is answered.
    const stream = Promise.all([0, 1].map(async () => {
      while (!stopping) {
        await spawnOne();
        await sleep(150);
      }
    }));

    try {
      await waitFor(() => successes() >= 3, 30_000, 'the first spawns');
      for (const name of ['A', 'B', 'C']) {
        const old = hubs.replicas.find((r) => r.name === name)!;
        down.add(name);
        const code = await old.stop('SIGTERM');
        expect(code, `${name} exit code`).toBe(0);
        expect(old.stderr() + old.stdout(), `${name} drained`).not.toMatch(/drain timed out/);
        const fresh = await hubs.startReplica(name);
        await replicaIdOf(fresh);
        down.delete(name);
        // The stream goes on through the replaced replica before the next one goes down.
        const before = successes();
        await waitFor(() => successes() >= before + 3, 30_000, `spawns after ${name} restarted`);
      }
    } finally {
      stopping = true;
      await stream;
    }

    // Every request succeeded, or failed with a clear gRPC status.
    const failed = outcomes.filter((o) => o.error !== undefined);
    const retried = outcomes.filter((o) => o.attempts > 1).length;
    console.log(`rolling restart: ${outcomes.length} spawn requests, ${successes()} succeeded, ${retried} retried, ${failed.length} failed` + outcomes.flatMap((o) => o.errors.map((e) => `\n  ${o.requestId} ${e}`)).join('') + failed.map((o) => `\n  ${o.requestId} via ${o.via.join(',')}: ${String(o.error)}`).join(''));
    for (const o of failed) {
      expect(o.error, `${o.requestId}: ${String(o.error)}`).toBeInstanceOf(ClientError);
      expect([Status.UNKNOWN, Status.INTERNAL]).not.toContain((o.error as ClientError).code);
    }
    // A draining replica answers the calls already on a runner's stream before sending it off,
    // and a replica that has just taken a runner's stream sends it nothing before the welcome:
    // no attempt was cut off after reaching the runner's stream (its answer lost).
    expect(outcomes.flatMap((o) => o.errors).filter((e) => /before answering/.test(e))).toEqual([]);
    // Each request succeeded in the end (retrying on a replica that is up loses nothing).
    expect(failed).toEqual([]);
    const made = outcomes.map((o) => o.sessionId!);
    expect(new Set(made).size).toBe(made.length);

    // No request id produced two sessions: each replica lists exactly the sessions the requests
    // were answered with, once each and running (a request applied twice would add one more),
    // and the runners themselves hold that many.
    const expected = [...made].sort();
    for (const r of hubs.replicas) {
      const listed = await waitFor(async () => {
        const all = (await clients(r).hub.listSessions({ includeEnded: true })).sessions;
        return all.length >= made.length && all.every((s) => s.state === SessionState.SESSION_STATE_RUNNING) ? all : undefined;
      }, 20_000, `${r.name} to list every session as running`);
      expect(listed.map((s) => s.id).sort(), `${r.name} lists each session once`).toEqual(expected);
    }
    for (const s of (await clients(hubs.replicas[0]!).hub.listSessions({ includeEnded: false })).sessions) expect(isAlive(s.pid), `session ${s.id} pid ${s.pid}`).toBe(true);
    let held = 0;
    for (const m of machines) held += (await clients(hubs.replicas[1]!).hub.getRunnerStatus({ machineId: m.id })).sessionCount;
    expect(held).toBe(made.length);

    // One live owner per machine; the three registered replicas are the new processes.
    const live = await liveIds();
    expect(live.size).toBe(3);
    for (const id of startIds) expect(live.has(id), `${id} left the registry`).toBe(false);
    await waitFor(async () => (await owners()).every((m) => m.online === 1 && m.owner_replica !== null && live.has(m.owner_replica)), 20_000, 'every machine online on a live replica');
    // All runners online, listed once and reachable (forwarded to their owner) from every replica.
    for (const r of hubs.replicas) {
      const c = clients(r);
      const listed = (await c.hub.listMachines({})).machines;
      for (const m of machines) {
        expect(listed.filter((x) => x.id === m.id), `${r.name} lists ${m.id} once`).toHaveLength(1);
        await waitMachine(c, m.id, (x) => x.online, 10_000);
        expect((await c.hub.getRunnerStatus({ machineId: m.id })).pid).toBeGreaterThan(0);
      }
    }
    for (const rt of runners) await rt.cli(['runner', 'stop']);
  }, 180_000);
});
