// The hub's CLI commands as real processes: tokens, auth, machines/sessions/spawn/stop,
// `hapi up`, and the example that uses only the generated HubService client.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listAndSpawn } from '../examples/list-and-spawn.js';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, isAlive, waitFor, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';
import { connectHub } from '../src/shared/hub-client.js';

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

function home(env: NodeJS.ProcessEnv = {}) {
  const th = createTestHome(env);
  homes.push(th);
  return th;
}

describe('hub CLI', () => {
  it('manages tokens with the owner token file, and logs in with one', async () => {
    const hubTh = home();
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const env = { HAPI_API_URL: h.grpcUrl };

    const created = await hubTh.cli(['hub', 'token', 'create', '--namespace', 'team-a', '--label', 'laptop', '--json'], { env });
    expect(created.code, created.stderr).toBe(0);
    const tok = JSON.parse(created.stdout) as { tokenId: string; token: string; namespace: string };
    expect(tok.namespace).toBe('team-a');
    const bad = await hubTh.cli(['hub', 'token', 'create', '--namespace', 'NO WAY'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/namespace must match/);

    const list = await hubTh.cli(['hub', 'token', 'list'], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${tok.tokenId}\\s+team-a\\s+full\\s+\\S+\\s+laptop`));
    expect(list.stdout).not.toContain(tok.token);

    // A machine logs in with the new token.
    const user = home();
    const login = await user.cli(['auth', 'login', '--hub', h.grpcUrl, '--token', tok.token]);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('namespace team-a');
    expect(statSync(join(user.home, 'auth.json')).mode & 0o777).toBe(0o600);
    // With no HAPI_API_URL in the environment, the saved hub is used.
    const noUrl = { HAPI_API_URL: '' };
    const st = await user.cli(['auth', 'status', '--json'], { env: noUrl });
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ hubUrl: h.grpcUrl, accepted: true, namespace: 'team-a', owner: false, tokenSource: 'auth-file' });
    const machines = await user.cli(['machines', '--json'], { env: noUrl });
    expect(JSON.parse(machines.stdout)).toEqual({ machines: [] });
    // Token management needs the owner token.
    const denied = await user.cli(['hub', 'token', 'list'], { env: { CLI_API_TOKEN: tok.token, HAPI_API_URL: h.grpcUrl } });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/owner token/);

    const revoked = await hubTh.cli(['hub', 'token', 'revoke', tok.tokenId], { env });
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await user.cli(['auth', 'status'], { env: noUrl });
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/not accepted .*rejected the token/);
    expect((await hubTh.cli(['hub', 'token', 'revoke', tok.tokenId], { env })).code).toBe(4);

    const logout = await user.cli(['auth', 'logout']);
    expect(logout.stdout).toContain('removed');
    const none = await user.cli(['machines'], { env: noUrl });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no hub token/);

    // An unreachable hub says so and exits 3.
    const down = await user.cli(['machines'], { env: { HAPI_API_URL: 'http://127.0.0.1:1', CLI_API_TOKEN: 'x' } });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach the hub at http:\/\/127\.0\.0\.1:1/);
  });

  it('lists machines and spawns/stops sessions on a real runner; the example does the same', async () => {
    const hubTh = home();
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const machine = home({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
    expect((await machine.cli(['runner', 'start'])).code).toBe(0);
    const c = connectHub(h.grpcUrl, h.ownerToken);
    try {
      const id = (await waitFor(async () => (await c.hub.listMachines({})).machines.find((m) => m.online))).id;
      const cliEnv = { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken };
      const table = await hubTh.cli(['machines'], { env: cliEnv });
      expect(table.stdout).toMatch(new RegExp(`${id}\\s+\\S+\\s+online`));

      const spawned = await hubTh.cli(['spawn', '--machine', id, machine.home, '--json'], { env: cliEnv });
      expect(spawned.code, spawned.stderr).toBe(0);
      const s = JSON.parse(spawned.stdout).session as { id: string; pid: number };
      expect(isAlive(s.pid)).toBe(true);
      const missing = join(machine.home, 'new-dir');
      const approval = await hubTh.cli(['spawn', '--machine', id, missing], { env: cliEnv });
      expect(approval.code).toBe(1);
      expect(approval.stdout).toContain('--approve');
      const approved = await hubTh.cli(['spawn', '--machine', id, missing, '--approve', '--json'], { env: cliEnv });
      expect(approved.code, approved.stderr).toBe(0);
      expect(statSync(missing).isDirectory()).toBe(true);

      // The table names the machine as `hapi machines` does.
      const name = new RegExp(`${id}\\s+(\\S+)\\s+online`).exec(table.stdout)![1]!;
      const sessionTable = await hubTh.cli(['sessions'], { env: cliEnv });
      expect(sessionTable.stdout).toMatch(new RegExp(`${s.id}\\s+${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+running`));
      const sessions = await hubTh.cli(['sessions', '--machine', id, '--json'], { env: cliEnv });
      expect(JSON.parse(sessions.stdout).sessions.map((x: { id: string }) => x.id)).toContain(s.id);
      const stopped = await hubTh.cli(['stop', '--machine', id, s.id, '--json'], { env: cliEnv });
      expect(JSON.parse(stopped.stdout)).toEqual({ result: 'stopped', sessionId: s.id });
      await waitFor(() => !isAlive(s.pid), 10_000);
      expect((await hubTh.cli(['stop', '--machine', 'ghost', s.id], { env: cliEnv })).code).toBe(4);

      // The example: generated client only.
      const r = await listAndSpawn(h.grpcUrl, h.ownerToken, join(machine.home, 'from-example'));
      expect(r.machineId).toBe(id);
      expect(isAlive(r.session.pid)).toBe(true);
      await c.hub.stopSession({ machineId: id, sessionId: r.session.id });
    } finally {
      c.close();
    }
  });

  it('`hapi up` starts a hub and a runner connected to it, and Ctrl+C (or its terminal closing) stops both', async () => {
    const th = home({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_API_URL: '' });
    const proc = th.spawnCli(['up']);
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    await waitFor(() => /Ctrl\+C stops/.test(out), 30_000, `hapi up to be ready:\n${out}\n${err}`);
    expect(out).toMatch(/machine \S+ \(.*\) is online/);
    expect(out).toContain('runner started');
    const grpcUrl = /hub gRPC listening on (\S+)/.exec(out)![1]!;
    const runnerPid = Number(/runner started \(pid (\d+)\)/.exec(out)![1]);
    // The saved login makes plain commands work.
    const auth = JSON.parse(readFileSync(join(th.home, 'auth.json'), 'utf8'));
    expect(auth.hubUrl).toBe(grpcUrl);
    const machines = await th.cli(['machines', '--json']);
    expect(machines.code, machines.stderr).toBe(0);
    expect(JSON.parse(machines.stdout).machines[0]).toMatchObject({ online: true });

    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(isAlive(runnerPid)).toBe(false);
    const c = connectHub(grpcUrl, auth.token);
    try {
      await expect(c.hub.listMachines({})).rejects.toBeTruthy();
    } finally {
      c.close();
    }

    // Its terminal closed (SIGHUP): both stop as well, rather than leave the runner behind.
    const again = th.spawnCli(['up']);
    let out2 = '';
    again.stdout!.on('data', (d) => (out2 += d));
    const exited2 = new Promise<number | null>((r) => again.on('exit', (code) => r(code)));
    await waitFor(() => /Ctrl\+C stops/.test(out2), 30_000, `hapi up to be ready again:\n${out2}`);
    const runnerPid2 = Number(/runner started \(pid (\d+)\)/.exec(out2)![1]);
    again.kill('SIGHUP');
    expect(await exited2).toBe(0);
    expect(isAlive(runnerPid2)).toBe(false);
  });

  it('`hapi up` replaces a runner that runs without a hub, and its sessions are re-adopted', async () => {
    const th = home({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_API_URL: '', HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const localPid = th.state()!.pid;
    const spawned = await th.cli(['runner', 'list', '--json']);
    expect(JSON.parse(spawned.stdout)).toEqual({ sessions: [] });
    // A terminal session of this runner, still running while the runner is replaced.
    const session = th.spawnCli([]);
    await waitFor(async () => JSON.parse((await th.cli(['runner', 'list', '--json'])).stdout).sessions.length === 1, 10_000, 'the session to report');

    const proc = th.spawnCli(['up']);
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    await waitFor(() => /Ctrl\+C stops/.test(out), 30_000, `hapi up to be ready:\n${out}`);
    expect(out).toContain(`runner pid ${localPid} is not linked to a hub; restarting it linked to this hub`);
    expect(out).toMatch(/machine \S+ \(.*\) is online/);
    const newPid = Number(/runner started \(pid (\d+)\)/.exec(out)![1]);
    expect(newPid).not.toBe(localPid);
    expect(isAlive(localPid)).toBe(false);
    const sessions = await th.cli(['sessions', '--json']);
    expect(sessions.code, sessions.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(sessions.stdout))).toContain(`${session.pid}`);

    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(isAlive(newPid)).toBe(false);
    expect(session.exitCode).toBeNull();
  });
});
