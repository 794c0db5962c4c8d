// Agents' live activity across hub replicas (issue 15): two real hubs on one throwaway PostgreSQL
// (test/cluster-harness.ts). A runner on A reports a session that needs approval; B, which does
// not hold the runner's stream, lists it and its watchers see it with the pending request (the
// owner stores each change of activity in the sessions row, the change bus rings B). A decision
// made on B is forwarded to A, reaches the runner, and the request clears on A and B without
// waiting for the runner's next report (the runner here never sends another one).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ActivityState, ApprovalDecision, SessionState, StartedBy } from '../gen/hapi/common/v1/common.js';
import type { ApprovalRequest, Session } from '../gen/hapi/common/v1/common.js';
import type { RpcRequest } from '../gen/hapi/hub/v1/machine.js';
import { DecisionOrigin } from '../gen/hapi/hub/v1/hub.js';
import { cleanupAllHomes, waitFor } from './harness.js';
import { rest, simRunner, type SimRunner } from './hub-helpers.js';
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

const session = (id: string): Session =>
  ({
    id,
    pid: 1000,
    startedBy: StartedBy.STARTED_BY_RUNNER,
    directory: '/work',
    agent: 'claude',
    startedAt: new Date(),
    state: SessionState.SESSION_STATE_RUNNING,
    exitSignal: '',
    machineId: '',
    lastLine: '',
  }) as Session;

const request: ApprovalRequest = {
  id: 'req-1',
  tool: 'Bash',
  command: 'ls -la',
  file: '',
  choices: [ApprovalDecision.APPROVAL_DECISION_ALLOW, ApprovalDecision.APPROVAL_DECISION_DENY],
  requestedAt: new Date(),
  description: 'Run ls -la',
  atTerminal: false,
};

const NEEDS = ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL;
const asking = (s: Session | undefined) => s?.activity?.state === NEEDS && s.activity.requests.some((r) => r.id === 'req-1' && r.command === 'ls -la');
const cleared = (s: Session | undefined) => !!s?.activity && s.activity.state !== NEEDS && s.activity.requests.length === 0;

describe.skipIf(!pgc)('hub replicas: agents live activity', () => {
  it('needs_approval with its request shows on B (list, watch, REST); a decision on B clears it on A and B', async () => {
    cluster = await startHubCluster(pgc!, { replicas: 2 });
    const [a, b] = cluster.replicas as [Replica, Replica];
    const decisions: RpcRequest[] = [];
    const runner = simRunner({
      url: a.grpcUrl,
      token: cluster.ownerToken,
      machineId: 'machine-a',
      sessions: [session('s-ask')],
      onRpc: (req) => {
        if (req.method?.$case !== 'decideApproval') return undefined;
        decisions.push(req);
        return { $case: 'decideApproval', value: request };
      },
    });
    runners.push(runner);
    await runner.welcome;

    const ac = new AbortController();
    const seenOnB: Session[] = [];
    const watching = (async () => {
      for await (const e of b.clients().hub.watchSessions({}, { signal: ac.signal })) if (e.session) seenOnB.push(e.session);
    })().catch(() => undefined);
    try {
      await waitFor(() => seenOnB.some((s) => s.id === 's-ask'), 20_000, "B's watch to list the session");
      runner.send({
        $case: 'sessionActivity',
        value: {
          sessions: [
            {
              sessionId: 's-ask',
              lastOutputAt: new Date(),
              lastLine: 'Allow ls -la?',
              activity: { state: NEEDS, guess: false, message: '', requests: [request], since: new Date(), source: 'claude-hooks' },
            },
          ],
        },
      });

      const listed = async (r: Replica) => (await r.clients().hub.listSessions({})).sessions.find((s) => s.id === 's-ask');
      // A holds the stream; B knows it from the row.
      await waitFor(async () => asking(await listed(a)), 20_000, 'A to list the session as needing approval');
      await waitFor(async () => asking(await listed(b)), 20_000, 'B to list the session as needing approval');
      await waitFor(() => asking(seenOnB.at(-1)), 20_000, "B's watch to see the approval request");
      expect(seenOnB.filter((s) => s.id === 's-ask').at(-1)!.activity).toMatchObject({ guess: false, source: 'claude-hooks', requests: [{ id: 'req-1', tool: 'Bash', description: 'Run ls -la' }] });
      const viaRest = await rest(b.httpUrl, cluster.ownerToken, '/api/v1/sessions');
      expect(viaRest.status, viaRest.text).toBe(200);
      expect(viaRest.json.sessions.find((s: { id: string }) => s.id === 's-ask').activity).toMatchObject({ state: 'ACTIVITY_STATE_NEEDS_APPROVAL', requests: [{ id: 'req-1', command: 'ls -la' }] });

      // Decided on B: forwarded to A, which holds the stream; the runner gets it once.
      const r = await b.clients().hub.decideApproval({
        machineId: 'machine-a',
        sessionId: 's-ask',
        requestId: 'req-1',
        decision: ApprovalDecision.APPROVAL_DECISION_ALLOW,
        message: '',
        origin: DecisionOrigin.DECISION_ORIGIN_API,
      });
      expect(r.record).toMatchObject({ decision: ApprovalDecision.APPROVAL_DECISION_ALLOW, request: { id: 'req-1' } });
      expect(decisions).toHaveLength(1);
      expect(decisions[0]!.method).toMatchObject({ value: { sessionId: 's-ask', decision: { requestId: 'req-1' } } });

      // Cleared everywhere, with no further report from the runner.
      await waitFor(() => cleared(seenOnB.at(-1)), 20_000, "B's watch to see the request cleared");
      await waitFor(async () => cleared(await listed(b)), 20_000, 'B to list the request cleared');
      await waitFor(async () => cleared(await listed(a)), 20_000, 'A to list the request cleared');
    } finally {
      ac.abort();
      await watching;
    }
  });
});
