// Every `--json` output of the CLI, from real commands against a real runner and a real hub,
// checked against its JSON Schema in docs/json/ (test/json-schema.ts validates), and errors
// under --json: one object on stderr, nothing on stdout.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_AGENT, cleanupAllHomes, createTestHome, waitFor, type CliResult, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';
import { SCHEMA_DIR, loadSchema, validate } from './json-schema.js';

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

/** The one JSON object `r` printed on stdout, valid against `schema`. */
function output(r: CliResult, schema: string, exitCode = 0): Record<string, any> {
  expect(r.code, r.stderr).toBe(exitCode);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines, r.stdout).toHaveLength(1);
  const value = JSON.parse(lines[0]!) as Record<string, any>;
  expect(validate(schema, value), `${schema}: ${lines[0]}`).toEqual([]);
  return value;
}

/** The error object `r` printed on stderr under --json, valid against error.schema.json. */
function jsonError(r: CliResult, code: string, exitCode: number): Record<string, any> {
  expect(r.stdout).toBe('');
  expect(r.code, r.stderr).toBe(exitCode);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  const e = JSON.parse(lines[0]!) as Record<string, any>;
  expect(validate('error.schema.json', e)).toEqual([]);
  expect(e).toMatchObject({ code, exitCode });
  return e;
}

describe('the JSON Schemas in docs/json', () => {
  it('say every field is present and nothing else is, and the validator catches what breaks them', () => {
    const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    const objects = (s: any): any[] => (s && typeof s === 'object' ? [...(s.type === 'object' ? [s] : []), ...Object.values(s).flatMap(objects)] : []);
    for (const f of files) {
      for (const o of objects(loadSchema(f))) {
        expect(o.additionalProperties, f).toBe(false);
        expect([...o.required].sort(), f).toEqual(Object.keys(o.properties).sort());
      }
    }
    const good = { result: 'stopped', sessionId: 'x' };
    expect(validate('stop.schema.json', good)).toEqual([]);
    expect(validate('stop.schema.json', { result: 'stopped' })).toEqual(['$: missing required field sessionId']);
    expect(validate('stop.schema.json', { ...good, extra: 1 })).toEqual(['$: field extra is not in the schema']);
    expect(validate('stop.schema.json', { ...good, result: 'STOPPED' })[0]).toMatch(/is not one of/);
    expect(validate('runner-list.schema.json', [])).toEqual(['$: [] is not of type object']);
    expect(validate('hub-session.schema.json', { startedAt: 'yesterday' }).join('\n')).toMatch(/\$\.startedAt: yesterday is not an RFC 3339 date-time/);
  });
});

describe('--json output of real commands', () => {
  it('runner status and runner list, with a runner and without', async () => {
    const th = home();
    const absent = output(await th.cli(['runner', 'status', '--json']), 'runner-status.schema.json', 3);
    expect(absent).toMatchObject({ running: false, state: 'not-running', pid: null, sessions: null });
    jsonError(await th.cli(['runner', 'list', '--json']), 'unavailable', 3);

    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const session = th.spawnCli([]);
    const listed = await waitFor(async () => {
      const list = output(await th.cli(['runner', 'list', '--json']), 'runner-list.schema.json');
      return list.sessions.find((s: { pid: number }) => s.pid === session.pid);
    }, 20_000, 'the terminal session listed');
    expect(listed).toMatchObject({ state: 'running', startedBy: 'terminal', exitCode: null, exitSignal: null });

    const status = output(await th.cli(['runner', 'status', '--json']), 'runner-status.schema.json');
    expect(status).toMatchObject({ running: true, state: 'running', message: null, sessionCount: 1 });
    expect(status.sessions).toHaveLength(1);
    expect(status.hubLink.state).not.toMatch(/[A-Z_]/);

    expect((await th.cli(['runner', 'stop-session', listed.sessionId])).code).toBe(0);
    const ended = await waitFor(async () => {
      const all = output(await th.cli(['runner', 'list', '--all', '--json']), 'runner-list.schema.json');
      return all.sessions.find((s: { sessionId: string; state: string }) => s.sessionId === listed.sessionId && s.state === 'ended');
    }, 10_000, 'the session to end');
    expect(ended.endedAt).not.toBeNull();
  });

  it('the hub commands: tokens, auth status, machines, sessions, spawn and stop', async () => {
    const hubTh = home();
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const env = { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken };

    const created = output(await hubTh.cli(['hub', 'token', 'create', '--namespace', 'default', '--label', 'ro', '--read-only', '--json'], { env: { HAPI_API_URL: h.grpcUrl } }), 'hub-token-create.schema.json');
    expect(created).toMatchObject({ namespace: 'default', label: 'ro', scope: 'read-only' });
    const tokens = output(await hubTh.cli(['hub', 'token', 'list', '--json'], { env: { HAPI_API_URL: h.grpcUrl } }), 'hub-token-list.schema.json');
    expect(tokens.tokens.map((t: { scope: string }) => t.scope).sort()).toEqual(['full', 'read-only']);
    expect(JSON.stringify(tokens)).not.toContain(created.token);

    const auth = output(await hubTh.cli(['auth', 'status', '--json'], { env: { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: created.token } }), 'auth-status.schema.json');
    expect(auth).toMatchObject({ accepted: true, tokenSource: 'cli-api-token', scope: 'read-only', error: null });
    const refused = output(await hubTh.cli(['auth', 'status', '--json'], { env: { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: 'nope' } }), 'auth-status.schema.json', 1);
    expect(refused).toMatchObject({ accepted: false, namespace: null, scope: null });

    const machine = home({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken });
    expect((await machine.cli(['runner', 'start'])).code).toBe(0);
    const machines = await waitFor(async () => {
      const m = output(await hubTh.cli(['machines', '--json'], { env }), 'machines.schema.json');
      return m.machines.length === 1 && m.machines[0].online && m.machines[0].runnerState?.status === 'running' ? m : undefined;
    }, 20_000, 'the machine online');
    const id = machines.machines[0].id as string;

    const spawned = output(await hubTh.cli(['spawn', '--machine', id.slice(0, 8), machine.home, '--json'], { env }), 'spawn.schema.json');
    expect(spawned).toMatchObject({ started: true, requiresUserApproval: false, actionRequired: null, directory: null });
    expect(spawned.session).toMatchObject({ startedBy: 'runner', machineId: id });
    const approval = output(await hubTh.cli(['spawn', '--machine', id, join(machine.home, 'missing'), '--json'], { env }), 'spawn.schema.json', 1);
    expect(approval).toMatchObject({ started: false, session: null, requiresUserApproval: true, actionRequired: 'create-directory', directory: join(machine.home, 'missing') });

    const sessions = output(await hubTh.cli(['sessions', '--json'], { env }), 'sessions.schema.json');
    expect(sessions.sessions.find((s: { id: string }) => s.id === spawned.session.id)?.state).toMatch(/^(starting|running)$/);
    const stopped = output(await hubTh.cli(['stop', '--machine', id, spawned.session.id, '--json'], { env }), 'stop.schema.json');
    expect(stopped).toEqual({ result: 'stopped', sessionId: spawned.session.id });
    const all = await waitFor(async () => {
      const s = output(await hubTh.cli(['sessions', '--all', '--json'], { env }), 'sessions.schema.json');
      return s.sessions.find((x: { id: string; state: string }) => x.id === spawned.session.id && x.state === 'ended') ? s : undefined;
    }, 10_000, 'the ended session on the hub');
    expect(all.sessions.length).toBeGreaterThan(0);

    // Errors under --json: one object on stderr with the gRPC code, the message and the exit code.
    jsonError(await hubTh.cli(['sessions', '--machine', 'no-such-machine', '--json'], { env }), 'not_found', 4);
    jsonError(await hubTh.cli(['machines', '--json', '--bogus'], { env }), 'invalid_argument', 2);
    jsonError(await hubTh.cli(['machines', '--json'], { env: { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: 'nope' } }), 'unauthenticated', 1);
    jsonError(await hubTh.cli(['machines', '--json'], { env: { HAPI_API_URL: 'http://127.0.0.1:1', CLI_API_TOKEN: 'x' } }), 'unavailable', 3);
    const noJson = await hubTh.cli(['sessions', '--machine', 'no-such-machine'], { env });
    expect(noJson.stderr).toMatch(/^hapi: no machine matches/);
  });
});
