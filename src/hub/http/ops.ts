/**
 * Operations endpoints on the hub's HTTP port, in front of everything else (the web page, the
 * REST view):
 *   GET /healthz               -> 200 {status: "ok"}: the process serves HTTP (no token)
 *   GET /readyz                -> 200 {ready: true, checks} | 503 {ready: false, reason, checks} (no token)
 *   GET /metrics               -> Prometheus text (the owner token as a bearer; none with HAPI_HUB_METRICS_OPEN=1)
 *   GET /api/v1/openapi.json   -> the REST view's OpenAPI 3.1 document (no token: it holds no data)
 * Any other path is not handled here (`handle` resolves false).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isHapiError, PermissionDeniedError, UnauthenticatedError } from '../../shared/errors.js';
import { bearerToken } from '../../shared/http/bearer.js';
import { buildOpenApi, type DocumentedRoute } from '../../shared/http/openapi.js';
import { jsonHandler } from '../../shared/http/reply.js';
import { createRouteTable, type RouteDoc } from '../../shared/http/routes.js';
import type { Logger } from '../../shared/logger.js';
import type { HubCore } from '../domain/hub-core.js';
import type { HubStore } from '../domain/ports.js';
import type { HubMetrics } from '../metrics/hub-metrics.js';
import { REST_SCHEMAS } from './rest-docs.js';

export interface OpsOptions {
  core: Pick<HubCore, 'authenticate'>;
  store: Pick<HubStore, 'countOwnerTokens'>;
  /** Why the hub is not ready to serve (starting, shutting down), or undefined when it is. */
  notReady: () => string | undefined;
  metrics: HubMetrics;
  /** HAPI_HUB_METRICS_OPEN. */
  metricsOpen: boolean;
  /** The REST view's routes (documented in the OpenAPI document). */
  restRoutes: readonly DocumentedRoute[];
  version: string;
  /** How long the store may take to answer /readyz (default 2 s). */
  storeTimeoutMs?: number;
  log?: Pick<Logger, 'error'>;
}

export interface OpsHandler {
  /** Answers an operations request; false when the path is not one of them. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** The OpenAPI document (also served at /api/v1/openapi.json). */
  openapi(): Record<string, unknown>;
  /** The operations routes with their docs. */
  routes: readonly DocumentedRoute[];
}

const OPS_DOCS = {
  healthz: {
    summary: 'liveness: the hub process serves HTTP',
    tag: 'operations',
    auth: 'none',
    responses: { 200: { description: 'alive', schema: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } } } },
  },
  readyz: {
    summary: 'readiness: the store answers and the hub listens (not starting, not shutting down)',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'ready', schema: { $ref: '#/components/schemas/Readiness' } },
      503: { description: 'not ready; `reason` says why', schema: { $ref: '#/components/schemas/Readiness' } },
    },
  },
  metrics: {
    summary: 'Prometheus metrics',
    description: 'The owner token as a bearer token (Prometheus `authorization` / `bearer_token_file`); no token with HAPI_HUB_METRICS_OPEN=1.',
    tag: 'operations',
    auth: 'owner',
    responses: {
      200: { description: 'Prometheus text exposition format', contentType: 'text/plain; version=0.0.4' },
      401: { description: 'no token, or a token the hub does not accept' },
      403: { description: 'a token other than the owner token' },
    },
  },
  openapi: {
    summary: 'this document',
    tag: 'operations',
    auth: 'none',
    responses: { 200: { description: 'OpenAPI 3.1', schema: { type: 'object' } } },
  },
} satisfies Record<string, RouteDoc>;

const READINESS_SCHEMA = {
  type: 'object',
  required: ['ready', 'reason', 'checks'],
  properties: {
    ready: { type: 'boolean' },
    reason: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'why not ready; null when ready' },
    checks: {
      type: 'object',
      required: ['listening', 'store'],
      properties: {
        listening: { type: 'boolean' },
        store: { type: 'boolean' },
        storeLatencyMs: { anyOf: [{ type: 'number' }, { type: 'null' }] },
      },
    },
  },
};

type OpsRoute = (req: IncomingMessage, res: ServerResponse) => Promise<readonly [number, unknown] | void> | readonly [number, unknown] | void;

/** Runs `fn` within `ms`; rejects with a message when it takes longer (a database that hangs). */
async function within<T>(ms: number, fn: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(fn),
      new Promise<never>((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function createOpsHandler(o: OpsOptions): OpsHandler {
  const storeTimeoutMs = o.storeTimeoutMs ?? 2_000;
  let document: Record<string, unknown> | undefined;

  async function readyz(): Promise<readonly [number, unknown]> {
    const notReady = o.notReady();
    const started = performance.now();
    let storeOk = true;
    let storeProblem: string | undefined;
    try {
      await within(storeTimeoutMs, () => o.store.countOwnerTokens());
    } catch (err) {
      storeOk = false;
      storeProblem = `the store does not answer: ${err instanceof Error ? err.message : String(err)}`;
    }
    const storeLatencyMs = storeOk ? Math.round((performance.now() - started) * 1000) / 1000 : null;
    const reason = notReady ?? storeProblem ?? null;
    const body = { ready: reason === null, reason, checks: { listening: notReady === undefined, store: storeOk, storeLatencyMs } };
    return [reason === null ? 200 : 503, body];
  }

  async function metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!o.metricsOpen) {
      let owner: boolean;
      try {
        owner = (await o.core.authenticate(bearerToken(req.headers.authorization))).owner;
      } catch {
        throw new UnauthenticatedError('metrics need the owner token as a bearer token (or HAPI_HUB_METRICS_OPEN=1 on the hub)');
      }
      if (!owner) throw new PermissionDeniedError('metrics need the owner token');
    }
    const text = await o.metrics.render();
    res.writeHead(200, { 'content-type': o.metrics.contentType, 'cache-control': 'no-store' }).end(text);
  }

  const table = createRouteTable<OpsRoute>([
    { method: 'GET', path: '/healthz', doc: OPS_DOCS.healthz, handler: () => [200, { status: 'ok' }] },
    { method: 'GET', path: '/readyz', doc: OPS_DOCS.readyz, handler: readyz },
    { method: 'GET', path: '/metrics', doc: OPS_DOCS.metrics, handler: metrics },
    { method: 'GET', path: '/api/v1/openapi.json', doc: OPS_DOCS.openapi, handler: () => [200, openapi()] },
  ]);
  const routes = table.routes();

  function openapi(): Record<string, unknown> {
    document ??= buildOpenApi(
      {
        title: 'hapi hub',
        version: o.version,
        description: 'The hub\'s REST view of HubService and its operations endpoints. JSON bodies have every documented field present.',
      },
      [...routes, ...o.restRoutes],
      { ...REST_SCHEMAS, Readiness: READINESS_SCHEMA },
    );
    return document;
  }

  const respond = jsonHandler(async (req, res) => {
    const { handler } = table.lookup(req.method, new URL(req.url ?? '/', 'http://hub.invalid').pathname);
    return handler(req, res);
  }, o.log);

  return {
    async handle(req, res) {
      try {
        table.lookup(req.method, new URL(req.url ?? '/', 'http://hub.invalid').pathname);
      } catch (err) {
        // Not an operations path: the next handler's. A known path with another method is answered (405).
        if (isHapiError(err) && err.kind === 'NotFound') return false;
        if (isHapiError(err) && err.kind === 'InvalidArgument' && !('status' in err)) return false;
      }
      await respond(req, res);
      return true;
    },
    openapi,
    routes,
  };
}
