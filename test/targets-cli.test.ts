// Sessions named by a unique id prefix wherever a command takes one, through the one resolver
// (src/shared/targets.ts): on this machine (runner stop-session, screen, send, attach) and on the
// hub (stop without --machine). Ambiguous: exit 2 naming the candidates; unknown: exit 4.
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from 'nice-grpc';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { FIXTURE_AGENT, cleanupAllHomes, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

function home(env: NodeJS.ProcessEnv = {}): TestHome {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}`, ...env });
  homes.push(th);
  return th;
}

/** Spawns sessions with the given ids through the runner's gRPC service; returns their PIDs. */
async function spawnWithIds(th: TestHome, ids: string[]): Promise<number[]> {
  const channel = createUdsChannel(th.state()!.socketPath);
  const client = createClient(RunnerServiceDefinition, channel);
  try {
    const pids: number[] = [];
    for (const sessionId of ids) {
      const r = await client.spawnSession({ spec: { directory: th.home, agent: '', sessionId, approveCreateDirectory: false, requestId: '', agentArgs: [] } });
      const result = r.outcome?.result;
      if (result?.$case !== 'session') throw new Error(`spawn ${sessionId}: ${JSON.stringify(r)}`);
      pids.push(result.value.pid);
    }
    return pids;
  } finally {
    channel.close();
  }
}

const A = 'abc11111-0000-4000-8000-000000000001';
const B = 'abc22222-0000-4000-8000-000000000002';

describe('session id prefixes', () => {
  it('on this machine: runner stop-session, screen and send take a unique prefix; ambiguous is exit 2 with the candidates, unknown exit 4', async () => {
    const th = home();
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const [pidA, pidB] = await spawnWithIds(th, [A, B]);

    for (const args of [['runner', 'stop-session', 'abc'], ['screen', 'abc'], ['send', 'abc', 'x'], ['attach', 'abc']]) {
      const r = await th.cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('session "abc" matches 2 sessions; give a longer prefix:');
      expect(r.stderr).toContain(`${A} (running, pid ${pidA}, ${th.home})`);
      expect(r.stderr).toContain(`${B} (running, pid ${pidB}, ${th.home})`);
    }
    for (const args of [['runner', 'stop-session', 'zzz'], ['screen', 'zzz']]) {
      const r = await th.cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(4);
    }
    const screen = await th.cli(['screen', 'abc2']);
    expect(screen.code, screen.stderr).toBe(0);

    const stop = await th.cli(['runner', 'stop-session', 'abc1']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`Session ${A} stopped`);
    await waitFor(() => !isAlive(pidA!), 10_000, 'session A to end');
    expect(isAlive(pidB!)).toBe(true);
    // A prefix shared with an ended session now names the live one.
    const again = await th.cli(['runner', 'stop-session', 'abc']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`Session ${B} stopped`);
  });

  it('on the hub: hapi stop finds the machine from a unique session prefix', async () => {
    const hubTh = home();
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const machine = home({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken });
    expect((await machine.cli(['runner', 'start'])).code).toBe(0);
    const [pidA, pidB] = await spawnWithIds(machine, [A, B]);
    const env = { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken };
    await waitFor(async () => {
      const r = await hubTh.cli(['sessions', '--json'], { env });
      return r.code === 0 && JSON.parse(r.stdout).sessions.length === 2;
    }, 15_000, 'the hub to list both sessions');

    const ambiguous = await hubTh.cli(['stop', 'abc'], { env });
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(new RegExp(`${A} \\(machine \\S+, running\\)`));
    expect((await hubTh.cli(['stop', 'nope'], { env })).code).toBe(4);
    const stopped = await hubTh.cli(['stop', 'abc2', '--json'], { env });
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(JSON.parse(stopped.stdout)).toEqual({ result: 'stopped', sessionId: B });
    await waitFor(() => !isAlive(pidB!), 10_000, 'session B to end');
    expect(isAlive(pidA!)).toBe(true);
  });
});
