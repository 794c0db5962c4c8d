/**
 * Helpers for the approval tests: a hub, a runner whose `claude` (or `codex`) is the hook fixture
 * agent, a session spawned through the hub, and a watch of its sessions collected as it streams.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { ActivityState, type Session } from '../gen/hapi/common/v1/common.js';
import type { HubClients } from '../src/shared/hub-client.js';
import { createTestHome, REPO_ROOT, waitFor, type TestHome } from './harness.js';
import { startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';
import { machineIdOf } from './runner-calls.js';

export const HOOK_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'hook-agent.mjs');

export interface AttentionRig {
  hubTh: TestHome;
  hub: HubProcess;
  th: TestHome;
  machineId: string;
  owner: HubClients;
  /** Every session the owner's WatchSessions stream sent, in order. */
  watched: Session[];
  cliEnv: () => NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function startAttentionRig(runnerEnv: NodeJS.ProcessEnv = {}): Promise<AttentionRig> {
  const hubTh = createTestHome();
  const hub = await startHubProcess(hubTh);
  const th = createTestHome({
    HAPI_API_URL: hub.grpcUrl,
    CLI_API_TOKEN: hub.ownerToken,
    HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${HOOK_AGENT}`,
    HAPI_AGENT_CODEX_COMMAND: `${process.execPath} ${HOOK_AGENT}`,
    ...runnerEnv,
  });
  const started = await th.cli(['runner', 'start']);
  expect(started.code, started.stderr).toBe(0);
  const machineId = await machineIdOf(th.home);
  const owner = hub.clients();
  await waitMachine(owner, machineId, (m) => m.online, 15_000);
  const watched: Session[] = [];
  const stop = new AbortController();
  void (async () => {
    try {
      for await (const e of owner.hub.watchSessions({ machineId }, { signal: stop.signal })) if (e.session) watched.push(e.session);
    } catch {
      // ended with the test
    }
  })();
  return {
    hubTh,
    hub,
    th,
    machineId,
    owner,
    watched,
    cliEnv: () => ({ HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: hub.ownerToken }),
    async close() {
      stop.abort();
      await th.cli(['runner', 'stop']).catch(() => undefined);
      await hub.stop('SIGKILL').catch(() => undefined);
      await th.cleanup();
      await hubTh.cleanup();
    },
  };
}

/** Spawns the fixture as `agent` through the hub and waits for its ready line. */
export async function spawnFixture(rig: AttentionRig, agent = 'claude'): Promise<string> {
  const r = await rig.owner.hub.spawnSession({
    machineId: rig.machineId,
    spec: { directory: rig.th.home, agent, sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] },
  });
  const id = r.outcome?.result?.$case === 'session' ? r.outcome.result.value.id : undefined;
  if (!id) throw new Error(`spawn failed: ${JSON.stringify(r)}`);
  await screenShows(rig, id, /ready/);
  return id;
}

export async function screenShows(rig: AttentionRig, sessionId: string, re: RegExp, ms = 15_000): Promise<string> {
  return waitFor(async () => {
    const s = await rig.owner.hub.getSessionScreen({ machineId: rig.machineId, sessionId });
    const text = s.screen?.screen?.text ?? '';
    return re.test(text) ? text : undefined;
  }, ms, `screen to show ${re}`);
}

export async function type(rig: AttentionRig, sessionId: string, text: string): Promise<void> {
  await rig.owner.hub.sendInput({ machineId: rig.machineId, sessionId, input: { data: Buffer.alloc(0), text, enter: true } });
}

/** Waits for the watch stream to carry this session in `state` (and `pred`), and returns it. */
export async function watchedState(rig: AttentionRig, sessionId: string, state: ActivityState, pred: (s: Session) => boolean = () => true, ms = 15_000): Promise<Session> {
  return waitFor(() => {
    for (let i = rig.watched.length - 1; i >= 0; i--) {
      const s = rig.watched[i]!;
      if (s.id !== sessionId) continue;
      return s.activity?.state === state && pred(s) ? s : undefined;
    }
    return undefined;
  }, ms, `session ${sessionId} to be ${ActivityState[state]} on the watch stream`);
}
