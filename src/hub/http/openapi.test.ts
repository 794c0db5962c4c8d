import { describe, expect, it } from 'vitest';
import { openHubStore } from '../store/sqlite/sqlite-store.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../shared/logger.js';
import { undocumentedRoutes } from '../../shared/http/openapi.js';
import { createRouteTable } from '../../shared/http/routes.js';
import { createHubCore } from '../domain/hub-core.js';
import { createHubMetrics } from '../metrics/hub-metrics.js';
import { createOpsHandler } from './ops.js';
import { bearerAuthenticator, createHubHttpHandler, machineJson, sessionJson } from './rest.js';
import { REST_SCHEMAS } from './rest-docs.js';

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-openapi-'));
  const store = openHubStore(join(dir, 'hub.db'));
  const core = await createHubCore({ store, log: silentLogger(), aliveTimeoutMs: 10_000, spawnDeadlineMs: 1_000, rpcDeadlineMs: 1_000 });
  const rest = createHubHttpHandler({ hub: core, authenticate: bearerAuthenticator(core) });
  const ops = createOpsHandler({ core, store, notReady: () => undefined, metrics: createHubMetrics(), metricsOpen: false, restRoutes: rest.routes, version: 'test' });
  const done = () => {
    core.close();
    try {
      void store.close().catch(() => undefined);
    } catch {
      // closed by the test
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { store, core, rest, ops, done };
}

describe('OpenAPI document of the REST view', () => {
  it('documents every route of the REST and operations tables, and documents nothing else', async () => {
    const { rest, ops, done } = await setup();
    try {
      expect(undocumentedRoutes(rest.routes)).toEqual([]);
      expect(undocumentedRoutes(ops.routes)).toEqual([]);
      const declared = [...rest.routes, ...ops.routes].map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`).sort();
      const paths = ops.openapi().paths as Record<string, Record<string, unknown>>;
      const documented = Object.entries(paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m.toUpperCase()} ${p}`)).sort();
      expect(documented).toEqual(declared);
      // And each documented path is routed by the tables to the route it documents.
      const table = createRouteTable([...rest.routes, ...ops.routes].map((r) => ({ ...r, handler: `${r.method} ${r.path}` })));
      for (const op of documented) {
        const [method, path] = op.split(' ') as [string, string];
        expect(table.lookup(method, path.replace(/\{(\w+)\}/g, 'x')).handler).toBe(`${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
      }
    } finally {
      done();
    }
  });

  it('the Machine and Session schemas name exactly the fields the REST view sends', () => {
    const t = new Date();
    const m = machineJson({
      id: 'm', namespace: 'default', metadata: { hostname: 'h', platform: 'linux', arch: 'x64', cliVersion: '1', displayName: 'h', homeDir: '/', agents: [] },
      metadataVersion: 1, online: true, lastAlive: t, onlineSince: t, runnerStateVersion: 1,
      runnerState: { status: 'running', pid: 1, startedAt: t, shutdownReason: '', lastSpawnError: '', httpPort: 0 },
    } as never) as Record<string, unknown>;
    expect(Object.keys(m).sort()).toEqual([...(REST_SCHEMAS.Machine!.required as string[])].sort());
    const s = sessionJson({ id: 's', pid: 1, directory: '/', agent: 'claude', startedAt: t, startedBy: 'runner', state: 'running', machineId: 'm' } as never) as Record<string, unknown>;
    expect(Object.keys(s).sort()).toEqual([...(REST_SCHEMAS.Session!.required as string[])].sort());
  });

  it('/readyz answers 503 with the reason when the store does not answer', async () => {
    const { store, ops, done } = await setup();
    try {
      await store.close();
      const { createServer } = await import('node:http');
      const server = createServer((req, res) => void ops.handle(req, res));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      const body = (await r.json()) as { ready: boolean; reason: string; checks: { store: boolean } };
      server.close();
      expect(r.status).toBe(503);
      expect(body.ready).toBe(false);
      expect(body.checks.store).toBe(false);
      expect(body.reason).toMatch(/store does not answer/);
    } finally {
      done();
    }
  });
});
