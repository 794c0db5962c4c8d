// Operations: the hub's /healthz, /readyz, /metrics (owner token, or open with
// HAPI_HUB_METRICS_OPEN=1) and OpenAPI document, with a real runner linked to a real hub; the
// runner's counters in `hapi runner status --json`.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Status } from 'nice-grpc';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, isAlive, waitFor, type TestHome } from './harness.js';
import { machineIdOf } from './runner-calls.js';
import { rest, startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';
import { validate } from './json-schema.js';

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

async function hubHome(env: NodeJS.ProcessEnv = {}, th = createTestHome(), owner?: string) {
  homes.push(th);
  const h = await startHubProcess(th, env, owner);
  hubs.push(h);
  return { th, h };
}

/** One sample of a Prometheus text exposition, by name and labels (e.g. `{method="spawn",outcome="ok"}`). */
function sample(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const key = line.slice(0, sp);
    if (key === `${name}${labels}`) return Number(line.slice(sp + 1));
  }
  return undefined;
}

async function metrics(h: HubProcess, token: string | undefined = h.ownerToken): Promise<string> {
  const r = await rest(h.httpUrl, token, '/metrics');
  expect(r.status, r.text).toBe(200);
  expect(r.headers.get('content-type')).toContain('text/plain');
  return r.text;
}

describe('hub operations endpoints', () => {
  it('health and readiness without a token; metrics only for the owner token', async () => {
    const { h } = await hubHome();
    expect(await rest(h.httpUrl, undefined, '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    const ready = await rest(h.httpUrl, undefined, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ ready: true, reason: null, checks: { listening: true, store: true } });
    expect((await rest(h.httpUrl, undefined, '/healthz', { method: 'POST' })).status).toBe(405);

    const none = await rest(h.httpUrl, undefined, '/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await rest(h.httpUrl, 'hapi_not-a-token', '/metrics')).status).toBe(401);
    const created = await h.clients().tokens.createToken({ namespace: 'team', label: 'ci' });
    expect((await rest(h.httpUrl, created.token, '/metrics')).status).toBe(403);
    const text = await metrics(h);
    for (const name of ['hapi_hub_machines_online', 'hapi_hub_attach_viewers', 'process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds']) {
      expect(sample(text, name), name).toBeDefined();
    }
    expect(sample(text, 'hapi_hub_runner_streams', '{kind="connect"}')).toBe(0);
    // The store calls of the start (marking machines offline, the owner token) were timed.
    expect(text).toMatch(/hapi_hub_store_call_duration_seconds_count\{operation="countOwnerTokens",outcome="ok"\} [1-9]/);
  });

  it('HAPI_HUB_METRICS_OPEN=1 serves metrics without a token', async () => {
    const { h } = await hubHome({ HAPI_HUB_METRICS_OPEN: '1' });
    expect(sample(await metrics(h, undefined), 'hapi_hub_machines_online')).toBe(0);
  });

  it('counts a real runner\'s stream and relayed calls by outcome; the runner counts them too', async () => {
    const hubTh = createTestHome();
    const { h } = await hubHome({}, hubTh);
    const grpcPort = new URL(h.grpcUrl).port;
    const th = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
    homes.push(th);
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const machineId = await machineIdOf(th.home);
    const c = h.clients();
    await waitMachine(c, machineId, (x) => x.online);
    const spec = { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] };
    const r = await c.hub.spawnSession({ machineId, spec });
    const s = (r.outcome!.result as { value: { id: string; pid: number } }).value;
    await c.hub.spawnSession({ machineId, spec: { ...spec, directory: join(th.home, 'missing') } }); // approval required: not a failure
    await expect(c.hub.spawnSession({ machineId, spec: { ...spec, agent: 'no-such-agent' } })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
    await c.hub.stopSession({ machineId, sessionId: s.id });
    await waitFor(() => !isAlive(s.pid), 10_000, 'session to exit');
    await expect(c.hub.stopSession({ machineId, sessionId: 'nope' })).rejects.toMatchObject({ code: Status.NOT_FOUND });
    // A machine of another namespace or none at all is refused before anything is relayed.
    await expect(c.hub.stopSession({ machineId: 'no-such-machine', sessionId: 'x' })).rejects.toMatchObject({ code: Status.NOT_FOUND });

    const text = await metrics(h);
    expect(sample(text, 'hapi_hub_machines_online')).toBe(1);
    expect(sample(text, 'hapi_hub_runner_streams', '{kind="connect"}')).toBe(1);
    // The runner's connect went through admission control (connect-gate.ts); nothing waits now.
    expect(sample(text, 'hapi_hub_runner_connects_total', '{outcome="admitted"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hapi_hub_runner_connects_total', '{outcome="refused"}')).toBe(0);
    expect(sample(text, 'hapi_hub_runner_connects', '{state="waiting"}')).toBe(0);
    expect(sample(text, 'hapi_hub_relayed_calls_total', '{method="spawn",outcome="ok"}')).toBe(2);
    expect(sample(text, 'hapi_hub_relayed_calls_total', '{method="spawn",outcome="invalid_argument"}')).toBe(1);
    expect(sample(text, 'hapi_hub_relayed_calls_total', '{method="stop-session",outcome="ok"}')).toBe(1);
    expect(sample(text, 'hapi_hub_relayed_calls_total', '{method="stop-session",outcome="not_found"}')).toBe(1);
    expect(sample(text, 'hapi_hub_relayed_call_duration_seconds_count', '{method="spawn",outcome="ok"}')).toBe(2);
    expect(sample(text, 'hapi_hub_relayed_call_duration_seconds_bucket', '{le="+Inf",method="spawn",outcome="ok"}')).toBe(2);

    // The hub restarts on the same port: the runner reconnects, and counts it.
    expect(await h.stop('SIGTERM')).toBe(0);
    const again = await hubHome({ HAPI_HUB_GRPC_PORT: grpcPort }, hubTh, h.ownerToken);
    await waitMachine(again.h.clients(), machineId, (x) => x.online, 20_000);
    const status = await th.cli(['runner', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const counters = await waitFor(async () => {
      const out = JSON.parse((await th.cli(['runner', 'status', '--json'])).stdout);
      expect(validate('runner-status.schema.json', out)).toEqual([]);
      const j = out.counters;
      return j.hubReconnects >= 1 ? j : undefined;
    }, 10_000, 'the reconnect counted');
    expect(counters).toMatchObject({ spawns: 1, spawnFailures: 1, stops: 1, relayedCalls: 5, relayedCallFailures: 2, logWriteFailures: 0 });
    expect(counters.hubLinkFailures).toBeGreaterThanOrEqual(1);
    expect(Object.keys(counters).sort()).toEqual(
      ['hubLinkFailures', 'hubReconnects', 'logWriteFailures', 'relayedCallFailures', 'relayedCalls', 'spawnFailures', 'spawns', 'stops'],
    );
  });

  it('every route of the served OpenAPI document exists on the hub', async () => {
    const { h } = await hubHome();
    const doc = (await rest(h.httpUrl, undefined, '/api/v1/openapi.json')).json as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => [m.toUpperCase(), path] as const));
    expect(ops.length).toBeGreaterThanOrEqual(11);
    for (const [method, path] of ops) {
      if (path === '/api/v1/events') continue; // a stream that does not end: checked below
      const url = path.replace(/\{[^}]+\}/g, 'x');
      const r = await rest(h.httpUrl, h.ownerToken, url, method === 'POST' ? { method, body: {} } : { method });
      // A route that does not exist answers 404 "no route for ..." or 405; any other answer (a missing machine too) means it exists.
      expect(r.status === 405 || (r.status === 404 && /no route/.test(r.text)), `${method} ${path}: ${r.status} ${r.text}`).toBe(false);
    }
    const ac = new AbortController();
    const events = await fetch(`${h.httpUrl}/api/v1/events`, { headers: { authorization: `Bearer ${h.ownerToken}` }, signal: ac.signal });
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toContain('text/event-stream');
    ac.abort();
  });
});
