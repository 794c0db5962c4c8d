// Issue 13, "Session activity" and "Decide from anywhere", with real processes: a hub, a runner,
// and the hook fixture agent as `claude` (hooks from --settings) and as `codex` (hooks from -c).
// The fixture asks permission through `hapi hook permission-request`; the request shows on the
// hub's watch stream; a decision through the hub reaches the waiting hook and the agent goes on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status, createChannel, createClient } from 'nice-grpc';
import { ActivityState, ApprovalDecision } from '../gen/hapi/common/v1/common.js';
import { DecisionOrigin } from '../gen/hapi/hub/v1/hub.js';
import { AttachMode, SessionServiceDefinition } from '../gen/hapi/session/v1/session.js';
import { sessionSocketPathFor } from '../src/shared/paths.js';
import { REPO_ROOT, waitFor } from './harness.js';
import { join } from 'node:path';

const TUI_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'tui-agent.mjs');
import { rest } from './hub-helpers.js';
import { screenShows, spawnFixture, startAttentionRig, type, watchedState, type AttentionRig } from './attention-helpers.js';

const code = async (p: Promise<unknown>) => p.then(() => 'OK', (e: { code?: number }) => Status[e.code ?? Status.UNKNOWN]);

describe('approvals through the hub (default timeout)', () => {
  let rig: AttentionRig;
  beforeAll(async () => {
    rig = await startAttentionRig();
  }, 60_000);
  afterAll(async () => rig?.close());

  it('Claude hooks: working, needs approval on the watch stream, allow and deny reach the agent, a stale decision is refused, all recorded', async () => {
    const id = await spawnFixture(rig);
    const { machineId, owner } = rig;
    await type(rig, id, 'ask ls -la');
    const asking = await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL);
    const req = asking.activity!.requests[0]!;
    expect(req).toMatchObject({ tool: 'Bash', command: 'ls -la', atTerminal: false, description: 'Run ls -la' });
    expect(req.choices).toEqual([ApprovalDecision.APPROVAL_DECISION_ALLOW, ApprovalDecision.APPROVAL_DECISION_ALLOW_SESSION, ApprovalDecision.APPROVAL_DECISION_DENY]);
    expect(asking.activity).toMatchObject({ guess: false, source: 'claude-hooks' });

    // The runner's own list shows it too.
    const listed = await rig.th.cli(['runner', 'list', '--json']);
    expect(JSON.parse(listed.stdout).sessions[0].activity).toMatchObject({ state: 'needs-approval', requests: [{ id: req.id, command: 'ls -la', choices: ['allow', 'allow-session', 'deny'] }] });
    const hubList = await rig.hubTh.cli(['sessions', '--json'], { env: rig.cliEnv() });
    expect(JSON.parse(hubList.stdout).sessions.find((s: { id: string }) => s.id === id).activity).toMatchObject({ state: 'needs-approval', guess: false, source: 'claude-hooks' });

    const r = await owner.hub.decideApproval({ machineId, sessionId: id, requestId: req.id, decision: ApprovalDecision.APPROVAL_DECISION_ALLOW, message: '', origin: DecisionOrigin.DECISION_ORIGIN_API });
    expect(r.record).toMatchObject({ decision: ApprovalDecision.APPROVAL_DECISION_ALLOW, origin: DecisionOrigin.DECISION_ORIGIN_API, request: { id: req.id } });
    await screenShows(rig, id, /ALLOWED ls -la/);
    // Cleared everywhere: the watch stream drops the request, then the turn ends.
    await watchedState(rig, id, ActivityState.ACTIVITY_STATE_WAITING_FOR_INPUT, (s) => s.activity!.requests.length === 0);
    expect(await code(owner.hub.decideApproval({ machineId, sessionId: id, requestId: req.id, decision: ApprovalDecision.APPROVAL_DECISION_DENY, message: '', origin: 0 }))).toBe('FAILED_PRECONDITION');

    await type(rig, id, 'ask rm -rf build');
    const second = (await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL)).activity!.requests[0]!;
    // A decision for another id is refused and the pending request stays.
    expect(await code(owner.hub.decideApproval({ machineId, sessionId: id, requestId: req.id, decision: ApprovalDecision.APPROVAL_DECISION_ALLOW, message: '', origin: 0 }))).toBe('FAILED_PRECONDITION');
    const denied = await rest(rig.hub.httpUrl, rig.hub.ownerToken, `/api/v1/machines/${machineId}/sessions/${id}/approvals/${second.id}`, { method: 'POST', body: { decision: 'deny', message: 'not the build dir', origin: 'push' } });
    expect(denied.status, denied.text).toBe(200);
    // "push" is the page's service worker's word (its sign-in): a token's request is API.
    expect(denied.json.decision).toMatchObject({ decision: 'deny', origin: 'api', message: 'not the build dir', request: { command: 'rm -rf build' } });
    await screenShows(rig, id, /DENIED: not the build dir/);

    // hapi approve, without a request id: the only pending one, and it says what it approved.
    await type(rig, id, 'ask npm test');
    await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL);
    const cli = await rig.hubTh.cli(['approve', id.slice(0, 8), '--machine', machineId, '--allow-session'], { env: rig.cliEnv() });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^approved for the session \S+ \(Bash: npm test\) in session /);
    await screenShows(rig, id, /ALLOWED npm test \(for the session: session\)/);
    const none = await rig.hubTh.cli(['approve', id, '--machine', machineId], { env: rig.cliEnv() });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/no approval request pending/);

    const history = await owner.hub.listApprovalDecisions({ machineId, sessionId: id });
    expect(history.records.map((x) => [x.decision, x.origin, x.request?.command])).toEqual([
      [ApprovalDecision.APPROVAL_DECISION_ALLOW, DecisionOrigin.DECISION_ORIGIN_API, 'ls -la'],
      [ApprovalDecision.APPROVAL_DECISION_DENY, DecisionOrigin.DECISION_ORIGIN_API, 'rm -rf build'],
      [ApprovalDecision.APPROVAL_DECISION_ALLOW_SESSION, DecisionOrigin.DECISION_ORIGIN_CLI, 'npm test'],
    ]);
    expect(history.records[0]).toMatchObject({ decidedBy: expect.any(String), tokenId: expect.any(String) });
    const rows = await rest(rig.hub.httpUrl, rig.hub.ownerToken, `/api/v1/machines/${machineId}/sessions/${id}/approvals`);
    expect(rows.json.decisions).toHaveLength(3);
  }, 90_000);

  it('read-only tokens cannot decide; another namespace cannot see or answer', async () => {
    const id = await spawnFixture(rig);
    const { machineId } = rig;
    await type(rig, id, 'ask make deploy');
    const req = (await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL)).activity!.requests[0]!;
    const make = async (args: string[]) => JSON.parse((await rig.hubTh.cli(['hub', 'token', 'create', ...args, '--json'], { env: rig.cliEnv() })).stdout).token as string;
    const reader = rig.hub.clients(await make(['--namespace', 'default', '--read-only']));
    const stranger = rig.hub.clients(await make(['--namespace', 'team']));
    const ask = { machineId, sessionId: id, requestId: req.id, decision: ApprovalDecision.APPROVAL_DECISION_ALLOW, message: '', origin: 0 };
    expect(await code(reader.hub.decideApproval(ask))).toBe('PERMISSION_DENIED');
    expect(await code(stranger.hub.decideApproval(ask))).toBe('NOT_FOUND');
    expect(await code(stranger.hub.listApprovalDecisions({ machineId, sessionId: id }))).toBe('NOT_FOUND');
    // Neither went through: the request still waits, and the owner's answer is the one applied.
    await rig.owner.hub.decideApproval(ask);
    await screenShows(rig, id, /ALLOWED make deploy/);
  }, 60_000);

  it("defers at once while the person's own terminal is attached and in use: the agent's prompt answers", async () => {
    const id = await spawnFixture(rig);
    const channel = createChannel(`unix://${sessionSocketPathFor(rig.th.home, id, rig.th.env)}`);
    const session = createClient(SessionServiceDefinition, channel);
    const abort = new AbortController();
    async function* hello() {
      yield { kind: { $case: 'hello' as const, value: { mode: AttachMode.ATTACH_MODE_INTERACTIVE, cols: 0, rows: 0, localTerminal: true } } };
      await new Promise((r) => abort.signal.addEventListener('abort', r));
    }
    const reading = (async () => {
      try {
        for await (const _ of session.attach(hello(), { signal: abort.signal }));
      } catch {
        // aborted
      }
    })();
    try {
      await waitFor(async () => (await session.getInfo({})).viewers > 0, 10_000, 'the local viewer');
      await type(rig, id, 'ask git push');
      const s = await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL, (x) => x.activity!.requests[0]?.atTerminal === true);
      await screenShows(rig, id, /Allow Bash git push\? \[y\/n\]/);
      const req = s.activity!.requests[0]!;
      expect(await code(rig.owner.hub.decideApproval({ machineId: rig.machineId, sessionId: id, requestId: req.id, decision: ApprovalDecision.APPROVAL_DECISION_ALLOW, message: '', origin: 0 }))).toBe('FAILED_PRECONDITION');
      await type(rig, id, 'y');
      await screenShows(rig, id, /ALLOWED git push at the terminal/);
      await watchedState(rig, id, ActivityState.ACTIVITY_STATE_WAITING_FOR_INPUT, (x) => x.activity!.requests.length === 0);
    } finally {
      abort.abort();
      await reading;
      channel.close();
    }
  }, 60_000);

  it('Codex hooks (-c overrides): the same request and decision shape', async () => {
    const id = await spawnFixture(rig, 'codex');
    await screenShows(rig, id, /codex hooks/);
    await type(rig, id, 'ask cargo build');
    const s = await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL);
    const req = s.activity!.requests[0]!;
    expect(s.activity!.source).toBe('codex-hooks');
    // Codex offers no "allow for this session" through its hook.
    expect(req.choices).toEqual([ApprovalDecision.APPROVAL_DECISION_ALLOW, ApprovalDecision.APPROVAL_DECISION_DENY]);
    await rig.owner.hub.decideApproval({ machineId: rig.machineId, sessionId: id, requestId: req.id, decision: ApprovalDecision.APPROVAL_DECISION_DENY, message: 'use make', origin: 0 });
    await screenShows(rig, id, /DENIED: use make/);
  }, 60_000);
});

describe('approvals nobody answers', () => {
  let rig: AttentionRig;
  beforeAll(async () => {
    rig = await startAttentionRig({ HAPI_APPROVAL_TIMEOUT_MS: '1500', HAPI_IDLE_MS: '300', HAPI_AGENT_PLAIN_COMMAND: `${process.execPath} ${TUI_AGENT}` });
  }, 60_000);
  afterAll(async () => rig?.close());

  it("times out into the agent's own prompt; the request stays shown at the terminal until the agent moves on", async () => {
    const id = await spawnFixture(rig);
    await type(rig, id, 'ask terraform apply');
    await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL, (s) => s.activity!.requests[0]?.atTerminal === false);
    await screenShows(rig, id, /Allow Bash terraform apply\? \[y\/n\]/);
    // The agent's notification that its dialog waits leaves the request shown, with the message.
    const s = await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL, (x) => x.activity!.requests[0]?.atTerminal === true && x.activity!.message === 'Claude needs your permission to use Bash');
    expect(await code(rig.owner.hub.decideApproval({ machineId: rig.machineId, sessionId: id, requestId: s.activity!.requests[0]!.id, decision: ApprovalDecision.APPROVAL_DECISION_ALLOW, message: '', origin: 0 }))).toBe('FAILED_PRECONDITION');
    await type(rig, id, 'n');
    await screenShows(rig, id, /DENIED at the terminal/);
    await watchedState(rig, id, ActivityState.ACTIVITY_STATE_WAITING_FOR_INPUT, (x) => x.activity!.requests.length === 0 && !x.activity!.guess);
  }, 60_000);

  it('guesses from the terminal for an agent without hooks: quiet after output is waiting, output again is working (guesses)', async () => {
    const r = await rig.owner.hub.spawnSession({
      machineId: rig.machineId,
      spec: { directory: rig.th.home, agent: 'plain', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: ['--no-alt', '--work-ms', '1500'] },
    });
    const id = r.outcome?.result?.$case === 'session' ? r.outcome.result.value.id : '';
    const waiting = await watchedState(rig, id, ActivityState.ACTIVITY_STATE_WAITING_FOR_INPUT);
    expect(waiting.activity).toMatchObject({ guess: true, source: 'terminal' });
    const seen = rig.watched.length;
    await rig.owner.hub.sendInput({ machineId: rig.machineId, sessionId: id, input: { data: Buffer.from('W'), text: '', enter: false } });
    // Output for 1.5 s, well past the echo window (250 ms) after the key: working, a guess.
    await waitFor(() => rig.watched.slice(seen).some((s) => s.id === id && s.activity?.state === ActivityState.ACTIVITY_STATE_WORKING && s.activity.guess), 20_000, 'working (guess) while it works');
    const working = rig.watched.slice(seen).findIndex((s) => s.id === id && s.activity?.state === ActivityState.ACTIVITY_STATE_WORKING);
    await waitFor(() => rig.watched.slice(seen + working).some((s) => s.id === id && s.activity?.state === ActivityState.ACTIVITY_STATE_WAITING_FOR_INPUT && s.activity.guess), 30_000, 'waiting (guess) after the work');
  }, 90_000);
});
