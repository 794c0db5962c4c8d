// Token scopes and the hub CLI's target resolution against a real hub process and a real
// runner (`hapi runner start`) running the fixture agent: a read-only token lists and watches,
// and is refused every write with PERMISSION_DENIED over gRPC and 403 over REST and the web
// page's cookie sign-in; namespaces still isolate. Also: the agents the runner finds on its
// PATH reach the hub, and `--machine` / session arguments take prefixes and names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ClientError, Status } from 'nice-grpc';
import { TokenScope } from '../gen/hapi/hub/v1/hub.js';
import { connectHub, type HubClients } from '../src/shared/hub-client.js';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, isAlive, waitFor, type TestHome } from './harness.js';
import { rest, simRunner, startHubProcess, type HubProcess } from './hub-helpers.js';

/** The gRPC status a call fails with (or 'ok'). */
async function statusOf(call: Promise<unknown>): Promise<Status | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (err) {
    if (err instanceof ClientError) return err.code;
    throw err;
  }
}

describe('token scopes and hub targets, real hub and runner', () => {
  let hubTh: TestHome;
  let machineTh: TestHome;
  let hub: HubProcess;
  let owner: HubClients;
  let machineId: string;
  let hostname: string;
  let reader: { tokenId: string; token: string; scope: string };
  let teamReader: string;
  const opened: HubClients[] = [];
  const cliEnv = () => ({ HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: hub.ownerToken });
  const clients = (token: string) => {
    const c = connectHub(hub.grpcUrl, token);
    opened.push(c);
    return c;
  };

  beforeAll(async () => {
    hubTh = createTestHome();
    hub = await startHubProcess(hubTh);
    owner = clients(hub.ownerToken);
    // The runner's PATH holds a `codex` (and node, for the fixture): the agents it finds there
    // are what the page's agent picker offers.
    const bin = join(hubTh.home, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'codex'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, 'codex'), 0o755);
    machineTh = createTestHome({
      HAPI_API_URL: hub.grpcUrl,
      CLI_API_TOKEN: hub.ownerToken,
      HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}`,
      PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`,
      // The runner looks at its agents again every heartbeat while linked.
      HAPI_RUNNER_HEARTBEAT_INTERVAL: '300',
    });
    const started = await machineTh.cli(['runner', 'start']);
    expect(started.code, started.stderr).toBe(0);
    const m = await waitFor(async () => (await owner.hub.listMachines({})).machines.find((x) => x.online), 15_000, 'the runner to register');
    machineId = m.id;
    hostname = m.metadata!.displayName;

    const made = await hubTh.cli(['hub', 'token', 'create', '--namespace', 'default', '--label', 'phone', '--read-only', '--json'], { env: cliEnv() });
    expect(made.code, made.stderr).toBe(0);
    reader = JSON.parse(made.stdout);
    const team = await hubTh.cli(['hub', 'token', 'create', '--namespace', 'team', '--read-only', '--json'], { env: cliEnv() });
    teamReader = JSON.parse(team.stdout).token;
  }, 60_000);

  afterAll(async () => {
    for (const c of opened) c.close();
    await machineTh?.cli(['runner', 'stop']).catch(() => undefined);
    await hub?.stop('SIGKILL').catch(() => undefined);
    await machineTh?.cleanup();
    await hubTh?.cleanup();
    await cleanupAllHomes();
  });

  it('stores the scope with the token: create, list (--json too) and whoami show it; the owner is full', async () => {
    expect(reader).toMatchObject({ scope: 'read-only', token: expect.stringMatching(/^hapi_/) });
    const list = await hubTh.cli(['hub', 'token', 'list', '--json'], { env: cliEnv() });
    const tokens = JSON.parse(list.stdout).tokens as { tokenId: string; owner: boolean; scope: string }[];
    expect(tokens.find((t) => t.tokenId === reader.tokenId)?.scope).toBe('read-only');
    expect(tokens.find((t) => t.owner)?.scope).toBe('full');
    const text = await hubTh.cli(['hub', 'token', 'list'], { env: cliEnv() });
    expect(text.stdout).toMatch(new RegExp(`${reader.tokenId}\\s+default\\s+read-only\\s+\\S+\\s+phone`));

    expect((await clients(reader.token).hub.whoAmI({})).scope).toBe(TokenScope.TOKEN_SCOPE_READ_ONLY);
    expect((await owner.hub.whoAmI({})).scope).toBe(TokenScope.TOKEN_SCOPE_FULL);
    const status = await hubTh.cli(['auth', 'status', '--json'], { env: { HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: reader.token } });
    expect(JSON.parse(status.stdout)).toMatchObject({ accepted: true, namespace: 'default', owner: false, scope: 'read-only' });
    expect((await rest(hub.httpUrl, reader.token, '/api/v1/whoami')).json).toEqual({ namespace: 'default', owner: false, scope: 'TOKEN_SCOPE_READ_ONLY' });
  });

  it('a read-only token lists and watches, and every write is PERMISSION_DENIED (gRPC) / 403 (REST, web)', async () => {
    const spawned = await owner.hub.spawnSession({ machineId, spec: { directory: machineTh.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } });
    const session = spawned.outcome!.result!.$case === 'session' ? spawned.outcome!.result!.value : undefined;
    expect(session).toBeDefined();
    const r = clients(reader.token);

    // Reads work.
    expect((await r.hub.listMachines({})).machines.map((m) => m.id)).toEqual([machineId]);
    expect((await r.hub.listSessions({ machineId })).sessions.map((s) => s.id)).toContain(session!.id);
    expect((await r.hub.getRunnerStatus({ machineId })).pid).toBeGreaterThan(0);
    const watch = r.hub.watchMachines({}, { signal: AbortSignal.timeout(10_000) })[Symbol.asyncIterator]();
    expect((await watch.next()).value.machine.id).toBe(machineId);
    await watch.return?.();
    expect((await rest(hub.httpUrl, reader.token, '/api/v1/sessions')).status).toBe(200);
    const cli = await hubTh.cli(['sessions', '--json'], { env: { HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: reader.token } });
    expect(cli.code, cli.stderr).toBe(0);

    // Writes are refused over gRPC ...
    const spec = { directory: machineTh.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] };
    expect(await statusOf(r.hub.spawnSession({ machineId, spec }))).toBe(Status.PERMISSION_DENIED);
    expect(await statusOf(r.hub.stopSession({ machineId, sessionId: session!.id }))).toBe(Status.PERMISSION_DENIED);
    expect(await statusOf(r.hub.stopRunner({ machineId }))).toBe(Status.PERMISSION_DENIED);
    const runner = simRunner({ url: hub.grpcUrl, token: reader.token, machineId: 'ro-machine' });
    expect(((await runner.ended) as ClientError).code).toBe(Status.PERMISSION_DENIED);
    // ... over REST ...
    for (const [path, body] of [
      [`/api/v1/machines/${machineId}/sessions`, { directory: machineTh.home }],
      [`/api/v1/machines/${machineId}/sessions/${session!.id}/stop`, undefined],
      [`/api/v1/machines/${machineId}/stop-runner`, undefined],
    ] as const) {
      const res = await rest(hub.httpUrl, reader.token, path, { method: 'POST', body });
      expect([path, res.status, res.json?.code]).toEqual([path, 403, 'PermissionDenied']);
    }
    // ... and through the web page's sign-in with that token.
    const origin = new URL(hub.httpUrl).origin;
    const login = await fetch(`${hub.httpUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ token: reader.token }),
    });
    const signedIn = (await login.json()) as { scope: string; csrfToken: string };
    expect(signedIn.scope).toBe('TOKEN_SCOPE_READ_ONLY');
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const web = (path: string, body?: unknown) =>
      fetch(`${hub.httpUrl}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { cookie, origin, 'x-csrf-token': signedIn.csrfToken, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await web('/api/v1/machines')).status).toBe(200);
    expect((await web(`/api/v1/machines/${machineId}/sessions`, { directory: machineTh.home })).status).toBe(403);
    expect((await web(`/api/v1/machines/${machineId}/sessions/${session!.id}/stop`, {})).status).toBe(403);
    expect((await web(`/api/v1/machines/${machineId}/stop-runner`, {})).status).toBe(403);
    // The CLI says why and exits 1.
    const denied = await hubTh.cli(['stop', '--machine', machineId, session!.id], { env: { HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: reader.token } });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('this token is read-only: it cannot stop sessions');

    // Nothing happened: the session and the runner still run.
    expect(isAlive(session!.pid)).toBe(true);
    expect((await owner.hub.listMachines({})).machines[0]).toMatchObject({ id: machineId, online: true });
    await owner.hub.stopSession({ machineId, sessionId: session!.id });
  });

  it('namespaces still isolate a read-only token', async () => {
    const t = clients(teamReader);
    expect((await t.hub.listMachines({})).machines).toEqual([]);
    expect(await statusOf(t.hub.getRunnerStatus({ machineId }))).toBe(Status.NOT_FOUND);
    expect(await statusOf(t.hub.listSessions({ machineId }))).toBe(Status.NOT_FOUND);
  });

  it('publishes the agents the runner finds (PATH, env), and no others; one installed later appears', async () => {
    const agents = async () => [...(await owner.hub.listMachines({})).machines.find((x) => x.id === machineId)!.metadata!.agents].sort();
    expect(await agents()).toEqual(['claude', 'codex']);
    const gemini = join(hubTh.home, 'bin', 'gemini');
    writeFileSync(gemini, '#!/bin/sh\nexit 0\n');
    chmodSync(gemini, 0o755);
    await waitFor(async () => (await agents()).includes('gemini'), 15_000, 'the hub to list gemini');
    expect(await agents()).toEqual(['claude', 'codex', 'gemini']);
  });

  it('--machine takes a unique id prefix or the name; a session argument takes a unique id prefix', async () => {
    const env = cliEnv();
    const spawned = await hubTh.cli(['spawn', '--machine', machineId.slice(0, 6), machineTh.home, '--json'], { env });
    expect(spawned.code, spawned.stderr).toBe(0);
    const s = JSON.parse(spawned.stdout).session as { id: string; pid: number };
    const byName = await hubTh.cli(['sessions', '--machine', hostname, '--json'], { env });
    expect(JSON.parse(byName.stdout).sessions.map((x: { id: string }) => x.id)).toContain(s.id);
    const stopped = await hubTh.cli(['stop', '--machine', hostname, s.id.slice(0, 8), '--json'], { env });
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(JSON.parse(stopped.stdout)).toEqual({ result: 'stopped', sessionId: s.id });
    await waitFor(() => !isAlive(s.pid), 10_000, 'the session to exit');
    const unknown = await hubTh.cli(['spawn', '--machine', 'no-such-machine', machineTh.home], { env });
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('no machine matches "no-such-machine"');
  });
});
