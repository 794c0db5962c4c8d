// Watch streams across hub replicas (issue 15): three real hubs on one throwaway PostgreSQL
// (test/cluster-harness.ts), runners on different replicas. A watch on B sees what happens on
// A and C (LISTEN/NOTIFY as a doorbell, B reads the tables); after B's listener connection is
// killed (pg_terminate_backend), changes made meanwhile still reach B's watchers (a full
// resync); namespaces stay isolated across replicas; a token revoked on A stops working on B.
import { Status } from 'nice-grpc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SessionState, StartedBy } from '../gen/hapi/common/v1/common.js';
import type { Session } from '../gen/hapi/common/v1/common.js';
import type { Machine } from '../gen/hapi/hub/v1/hub.js';
import type { HubClients } from '../src/shared/hub-client.js';
import { cleanupAllHomes, waitFor } from './harness.js';
import { simRunner, type SimRunner } from './hub-helpers.js';
import { startHubCluster, type HubCluster, type Replica } from './cluster-harness.js';
import { startPgCluster } from './pg-cluster.js';

const pgc = await startPgCluster();
let cluster: HubCluster | undefined;
const runners: SimRunner[] = [];

afterEach(async () => {
  for (const r of runners.splice(0)) r.cancel();
  await cluster?.stop();
  cluster = undefined;
  await cleanupAllHomes();
});
afterAll(async () => {
  await pgc?.stop();
});

const session = (id: string, state = SessionState.SESSION_STATE_RUNNING): Session => ({
  id,
  pid: 1000,
  startedBy: StartedBy.STARTED_BY_RUNNER,
  directory: '/work',
  agent: 'claude',
  startedAt: new Date(),
  state,
  exitSignal: '',
  machineId: '',
  lastLine: '',
} as Session);

function runnerOn(replica: Replica, token: string, machineId: string, extra: Partial<Parameters<typeof simRunner>[0]> = {}): SimRunner {
  const r = simRunner({ url: replica.grpcUrl, token, machineId, ...extra });
  runners.push(r);
  return r;
}

/** Collects a watch's events until the test ends. */
function watchAll(c: HubClients, signal: AbortSignal) {
  const machines: Machine[] = [];
  const sessions: Session[] = [];
  const errors: unknown[] = [];
  void (async () => {
    for await (const e of c.hub.watchMachines({}, { signal })) if (e.machine) machines.push(e.machine);
  })().catch((err: unknown) => errors.push(err));
  void (async () => {
    for await (const e of c.hub.watchSessions({}, { signal })) if (e.session) sessions.push(e.session);
  })().catch((err: unknown) => errors.push(err));
  return {
    machines,
    sessions,
    errors,
    machine: (id: string, pred: (m: Machine) => boolean) => machines.some((m) => m.id === id && pred(m)),
    session: (id: string, pred: (s: Session) => boolean) => sessions.some((s) => s.id === id && pred(s)),
  };
}

describe.skipIf(!pgc)('hub replicas: watch streams across replicas', () => {
  it('a watch on B sees machines and sessions of runners on A and C; other namespaces stay apart', async () => {
    cluster = await startHubCluster(pgc!, { replicas: 3 });
    const [a, b, c] = cluster.replicas as [Replica, Replica, Replica];
    const owner = cluster.ownerToken;
    const team = await a.clients().tokens.createToken({ namespace: 'team-x', label: 'team' });
    const ac = new AbortController();
    try {
      const onB = watchAll(b.clients(), ac.signal);
      const teamOnB = watchAll(b.clients(team.token), ac.signal);

      // A machine whose stream is on C, one on A; and one of another namespace on A.
      const onC = runnerOn(c, owner, 'machine-c', {
        sessions: [session('s-hello')],
        onRpc: (req) => (req.method?.$case === 'spawnSession' ? { $case: 'spawnSession', value: { result: { $case: 'session', value: { ...session('s-spawned'), directory: req.method.value.directory } } } } : undefined),
      });
      const onA = runnerOn(a, owner, 'machine-a');
      const teamOnA = runnerOn(a, team.token, 'machine-team');
      await Promise.all([onC.welcome, onA.welcome, teamOnA.welcome]);

      await waitFor(() => onB.machine('machine-c', (m) => m.online) && onB.machine('machine-a', (m) => m.online), 20_000, 'B to see machines on A and C online');
      await waitFor(() => onB.session('s-hello', (s) => s.state === SessionState.SESSION_STATE_RUNNING), 20_000, 'B to see the session reported on C');
      await waitFor(() => teamOnB.machine('machine-team', (m) => m.online), 20_000, "B's team watcher to see the team machine");

      // A spawn made through C (the machine's owner; forwarding from A is cluster-core's part).
      const spawned = await c.clients().hub.spawnSession({ machineId: 'machine-c', spec: { directory: '/w', agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } });
      expect(spawned.outcome?.result?.$case).toBe('session');
      await waitFor(() => onB.session('s-spawned', (s) => s.machineId === 'machine-c' && s.directory === '/w'), 20_000, 'B to see the spawn made on C');

      // The session ends on C, the machine goes offline on C: B hears both.
      onC.send({ $case: 'sessionEvent', value: { type: 3, session: session('s-spawned', SessionState.SESSION_STATE_ENDED) } });
      await waitFor(() => onB.session('s-spawned', (s) => s.state === SessionState.SESSION_STATE_ENDED), 20_000, 'B to see the session end');
      onC.cancel();
      await waitFor(() => onB.machine('machine-c', (m) => !m.online), 20_000, 'B to see machine-c offline');

      // Namespaces: the default watcher never saw the team's machine, nor the team's the others.
      expect(onB.machines.map((m) => m.id)).not.toContain('machine-team');
      expect(teamOnB.machines.map((m) => m.id)).not.toContain('machine-c');
      expect(teamOnB.sessions).toEqual([]);
      expect((await b.clients(team.token).hub.listMachines({})).machines.map((m) => m.id)).toEqual(['machine-team']);
      expect(onB.errors).toEqual([]);
    } finally {
      ac.abort();
    }
  });

  it("after B's listener connection is killed, changes made meanwhile still reach B's watchers (resync)", async () => {
    // Replicas wait 2-4 s before reconnecting their listener: the changes below are made while
    // B has none (were one missed, the resync still brings it: the test holds either way).
    cluster = await startHubCluster(pgc!, { replicas: 2, env: { HAPI_HUB_LISTEN_RETRY_MS: '4000' } });
    const [a, b] = cluster.replicas as [Replica, Replica];
    const owner = cluster.ownerToken;
    const ac = new AbortController();
    try {
      const onB = watchAll(b.clients(), ac.signal);
      const first = runnerOn(a, owner, 'before');
      await first.welcome;
      await waitFor(() => onB.machine('before', (m) => m.online), 20_000, 'B to see the first machine');

      const db = await cluster.db();
      const old = await cluster.listenerPids(b);
      expect(old).toHaveLength(1);
      await db.query('SELECT pg_terminate_backend($1)', [old[0]]);
      await waitFor(async () => !(await cluster!.listenerPids(b)).includes(old[0]!), 10_000, "B's listener backend to be gone");

      // Meanwhile, on A: a machine connects with a session, and the first one goes offline.
      const during = runnerOn(a, owner, 'during', { sessions: [session('s-during')] });
      await during.welcome;
      first.cancel();
      await waitFor(async () => (await a.clients().hub.listMachines({})).machines.some((m) => m.id === 'before' && !m.online), 10_000, 'A to mark the first machine offline');

      await waitFor(async () => (await cluster!.listenerPids(b)).length === 1, 30_000, "B's listener to reconnect");
      await waitFor(() => onB.machine('during', (m) => m.online), 20_000, 'B to see the machine that connected meanwhile');
      await waitFor(() => onB.session('s-during', () => true), 20_000, 'B to see its session');
      await waitFor(() => onB.machine('before', (m) => !m.online), 20_000, 'B to see the first machine offline');

      // And the doorbell works again afterwards.
      const after = runnerOn(a, owner, 'after');
      await after.welcome;
      await waitFor(() => onB.machine('after', (m) => m.online), 20_000, 'B to see a machine that connected after the reconnect');
      expect(onB.errors).toEqual([]);
    } finally {
      ac.abort();
    }
  });

  it('a token revoked on A stops working on B at once, and its open watch on B ends', async () => {
    cluster = await startHubCluster(pgc!, { replicas: 2 });
    const [a, b] = cluster.replicas as [Replica, Replica];
    const t = await a.clients().tokens.createToken({ namespace: 'default', label: 'temp' });
    const onB = b.clients(t.token);
    // B has used (and cached) the token, and holds a watch with it.
    expect((await onB.hub.listMachines({})).machines).toEqual([]);
    const ended = (async () => {
      for await (const _ of onB.hub.watchMachines({})) {
        // nothing to see
      }
    })().then(() => undefined, (err: unknown) => err);

    await a.clients().tokens.revokeToken({ tokenId: t.tokenId });
    const timeout = new Promise((r) => setTimeout(() => r('still open after 20 s'), 20_000).unref());
    await expect(Promise.race([ended, timeout])).resolves.toMatchObject({ code: Status.UNAUTHENTICATED });
    await expect(onB.hub.listMachines({})).rejects.toMatchObject({ code: Status.UNAUTHENTICATED });
  });
});
