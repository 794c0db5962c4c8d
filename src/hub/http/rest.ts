/**
 * The hub's REST/JSON view of HubService on node:http. Transport only: it authenticates,
 * validates and decodes JSON, calls HubCore, and encodes proto3 JSON with every field present
 * (src/contract/json.ts).
 *
 * Routes (all need a caller; see `authenticate`):
 *   GET  /api/v1/whoami                                    -> {namespace, owner, scope}
 *   GET  /api/v1/machines                                  -> {machines: [Machine]}
 *   GET  /api/v1/sessions?machineId=&includeEnded=true     -> {sessions: [Session]} (with lastOutputAt, lastLine)
 *   POST /api/v1/machines/:machineId/sessions              -> {session} | 409 approval required
 *   POST /api/v1/machines/:machineId/sessions/:id/stop     -> {result: "stopped"|"already-gone"}
 *   POST /api/v1/machines/:machineId/stop-runner           -> {status: "stopping"}
 *   GET  /api/v1/events                                    -> text/event-stream (`machine`, `session`)
 *   GET  /api/v1/notifications/settings                    -> {notifyOnExit, mutedSessions: [{machineId, sessionId}]}
 *   POST /api/v1/notifications/settings  {notifyOnExit}    -> the same (full tokens)
 *   POST /api/v1/machines/:machineId/sessions/:id/mute {muted} -> {muted} (full tokens)
 *   GET  /api/v1/push/key                                  -> {publicKey} (VAPID applicationServerKey)
 *   POST /api/v1/push/subscriptions {endpoint, keys: {p256dh, auth}} -> {subscribed: true} (any scope)
 *   POST /api/v1/push/subscriptions/delete {endpoint}      -> {deleted}
 *
 * The web page mounts this handler under `/api/` and hands it the caller of a cookie session;
 * without one the caller comes from `authenticate` (a bearer token). Routing, bodies and error
 * bodies are the shared JSON HTTP layer's (src/shared/http/).
 */
import { clipActivityText } from '../../contract/activity-types.js';
import { decisionRecordJson } from '../../contract/hub.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sessionToProto } from '../../contract/common.js';
import { machineToProto, tokenScopeJson } from '../../contract/hub.js';
import { machineToJson, sessionToJson } from '../../contract/json.js';
import type { SpawnSpec } from '../../contract/types.js';
import { InvalidArgumentError, isHapiError, UnauthenticatedError } from '../../shared/errors.js';
import { bearerToken } from '../../shared/http/bearer.js';
import { readJsonObject } from '../../shared/http/body.js';
import { jsonHandler, type HttpHandler, type JsonReply } from '../../shared/http/reply.js';
import { createRouteTable, type RouteTable } from '../../shared/http/routes.js';
import type { Logger } from '../../shared/logger.js';
import type { Caller, HubEvent, HubSession } from '../domain/types.js';
import type { HubCore } from '../domain/hub-core.js';
import { REST_DOCS, SPAWN_BODY_SCHEMA } from './rest-docs.js';

export interface HubHttpOptions {
  hub: HubCore;
  /** Resolves the caller of a request, or throws UnauthenticatedError. */
  authenticate: (req: IncomingMessage) => Caller | Promise<Caller>;
  /** Interval of SSE comment lines that keep proxies from closing idle streams. */
  sseKeepAliveMs?: number;
  /** Where unexpected errors are logged (their message never reaches the client). */
  log?: Pick<Logger, 'error'>;
}

/**
 * Handles one request; resolves when the response is finished (or handed to SSE). `caller` is
 * given by a layer in front that already knows who asks (the web page's cookie session).
 */
export type HubHttpHandler = HttpHandler<[caller?: Caller]> & {
  /** The route table's routes with their docs (the OpenAPI document is built from them). */
  routes: ReturnType<RouteTable<unknown>['routes']>;
};

const MAX_BODY_BYTES = 1024 * 1024;

/** An empty body is fine (stop, stop-runner); a body must be JSON. Bearer callers carry no ambient credential. */
function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return readJsonObject(req, { limit: MAX_BODY_BYTES, contentType: 'with-body' });
}

/** Authenticates `Authorization: Bearer <token>` against the hub's tokens. */
export function bearerAuthenticator(hub: HubCore): (req: IncomingMessage) => Promise<Caller> {
  return async (req) => {
    try {
      return await hub.authenticate(bearerToken(req.headers.authorization));
    } catch (err) {
      // A lookup the database could not answer is a 503, not a bad token.
      if (isHapiError(err) && err.kind === 'Unavailable') throw err;
      throw new UnauthenticatedError();
    }
  };
}

/** A machine as the REST view and its event stream send it: proto3 JSON with every field present. */
export function machineJson(m: Parameters<typeof machineToProto>[0]): unknown {
  return machineToJson(machineToProto(m));
}

/** A session as the REST view and its event stream send it: proto3 JSON with every field present. */
export function sessionJson(s: Parameters<typeof sessionToProto>[0]): unknown {
  return sessionToJson(sessionToProto(s));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, max = 4096): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentError(`${key} must be a string`);
  if (v.length > max) throw new InvalidArgumentError(`${key} must be at most ${max} characters`);
  return v || undefined;
}

const SPAWN_KEYS = new Set(Object.keys(SPAWN_BODY_SCHEMA.properties));

/** Validates a spawn body; fromJSON would accept anything, so this is done by hand. */
export function parseSpawnBody(body: unknown): SpawnSpec {
  if (!isObject(body)) throw new InvalidArgumentError('request body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!SPAWN_KEYS.has(key)) throw new InvalidArgumentError(`unknown field ${JSON.stringify(key)}`);
  }
  const directory = optString(body, 'directory');
  if (!directory) throw new InvalidArgumentError('directory is required');
  const approve = body.approveCreateDirectory;
  if (approve !== undefined && typeof approve !== 'boolean') throw new InvalidArgumentError('approveCreateDirectory must be a boolean');
  let worktree: SpawnSpec['worktree'];
  if (body.worktree !== undefined && body.worktree !== null) {
    if (!isObject(body.worktree)) throw new InvalidArgumentError('worktree must be an object');
    for (const key of Object.keys(body.worktree)) {
      if (key !== 'branch') throw new InvalidArgumentError(`unknown field worktree.${key}`);
    }
    worktree = { branch: optString(body.worktree, 'branch', 200) };
  }
  const args = body.agentArgs ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new InvalidArgumentError('agentArgs must be an array of strings');
  if (args.length > 256) throw new InvalidArgumentError('agentArgs has too many entries');
  const prompt = body.prompt;
  if (prompt !== undefined && prompt !== null && typeof prompt !== 'string') throw new InvalidArgumentError('prompt must be a string');
  // Present but empty is a mistake (an empty form field sends nothing); the domain checks the rest.
  if (prompt === '') throw new InvalidArgumentError('prompt must not be empty (omit it for none)');
  return {
    directory,
    agent: optString(body, 'agent', 200),
    sessionId: optString(body, 'sessionId', 200),
    approveCreateDirectory: approve ?? false,
    worktree,
    requestId: optString(body, 'requestId', 200),
    agentArgs: args as string[],
    prompt: (prompt as string | null | undefined) ?? undefined,
  };
}

/** A browser's PushSubscription JSON (expirationTime is ignored). */
function parsePushSubscription(body: Record<string, unknown>): { endpoint: string; keys: { p256dh: string; auth: string } } {
  const keys = body.keys;
  if (typeof body.endpoint !== 'string' || !isObject(keys) || typeof keys.p256dh !== 'string' || typeof keys.auth !== 'string') {
    throw new InvalidArgumentError('expected a push subscription {endpoint, keys: {p256dh, auth}}');
  }
  return { endpoint: body.endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } };
}

/** A body of exactly `{<name>: boolean}`. */
function requiredBool(body: Record<string, unknown>, name: string): boolean {
  for (const key of Object.keys(body)) if (key !== name) throw new InvalidArgumentError(`unknown field ${JSON.stringify(key)}`);
  if (typeof body[name] !== 'boolean') throw new InvalidArgumentError(`${name} must be true or false`);
  return body[name] as boolean;
}

function parseBool(v: string | null, name: string): boolean {
  if (v === null || v === '') return false;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new InvalidArgumentError(`${name} must be true or false`);
}

/** Request-scoped abort: fires when the client goes away before the response is done. */
function requestSignal(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  void req;
  return ac.signal;
}

export function createHubHttpHandler(opts: HubHttpOptions): HubHttpHandler {
  const { hub } = opts;
  /** A session with what its runner last reported of its terminal (last output, last line). */
  const withActivity = (s: HubSession) => sessionJson({ ...s, ...hub.sessionActivity(s) });
  const keepAliveMs = opts.sseKeepAliveMs ?? 15_000;

  async function events(req: IncomingMessage, res: ServerResponse, caller: Caller): Promise<void> {
    const ac = new AbortController();
    const unwatch = hub.watchToken(caller.tokenId, () => ac.abort());
    res.on('close', () => ac.abort());
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    const ping = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    ping.unref();
    try {
      for await (const e of hub.watch(caller, { machines: true, sessions: true }, ac.signal) as AsyncIterable<HubEvent>) {
        const data = e.type === 'machine' ? machineJson(e.machine) : withActivity(e.session);
        res.write(`event: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
      }
    } finally {
      clearInterval(ping);
      unwatch();
      res.end();
    }
    void req;
  }

  interface Request {
    req: IncomingMessage;
    res: ServerResponse;
    url: URL;
    params: Record<string, string>;
    caller: Caller;
    /** Asked by the hub's own page (a signed-in browser), not with a bearer token. */
    fromPage: boolean;
  }
  type Route = (r: Request) => Promise<JsonReply | void> | JsonReply | void;

  const table = createRouteTable<Route>([
    {
      method: 'GET',
      path: '/api/v1/whoami',
      doc: REST_DOCS.whoami,
      handler: ({ caller }) => [200, { namespace: caller.namespace, owner: caller.owner, scope: tokenScopeJson(caller.scope) }],
    },
    { method: 'GET', path: '/api/v1/machines', doc: REST_DOCS.machines, handler: async ({ caller }) => [200, { machines: (await hub.listMachines(caller)).map(machineJson) }] },
    {
      method: 'GET',
      path: '/api/v1/sessions',
      doc: REST_DOCS.sessions,
      handler: async ({ caller, url }) => {
        const sessions = await hub.listSessions(caller, {
          machineId: url.searchParams.get('machineId') || undefined,
          includeEnded: parseBool(url.searchParams.get('includeEnded'), 'includeEnded'),
        });
        return [200, { sessions: sessions.map(withActivity) }];
      },
    },
    { method: 'GET', path: '/api/v1/events', doc: REST_DOCS.events, handler: ({ req, res, caller }) => events(req, res, caller) },
    {
      method: 'POST',
      path: '/api/v1/machines/:machineId/sessions',
      doc: REST_DOCS.spawn,
      handler: async ({ req, res, params, caller }) => {
        const spec = parseSpawnBody(await readJson(req));
        const outcome = await hub.spawnSession(caller, params.machineId!, spec, requestSignal(req, res));
        if (outcome.kind === 'approval-required') {
          return [409, { success: false, requiresUserApproval: true, actionRequired: 'CREATE_DIRECTORY', directory: outcome.directory }];
        }
        return [200, { session: sessionJson(outcome.session) }];
      },
    },
    {
      method: 'POST',
      path: '/api/v1/machines/:machineId/sessions/:sessionId/stop',
      doc: REST_DOCS.stopSession,
      handler: async ({ req, res, params, caller }) => {
        await readJson(req);
        const result = await hub.stopSession(caller, params.machineId!, params.sessionId!, requestSignal(req, res));
        return [200, { result }];
      },
    },
    {
      method: 'POST',
      path: '/api/v1/machines/:machineId/stop-runner',
      doc: REST_DOCS.stopRunner,
      handler: async ({ req, res, params, caller }) => {
        await readJson(req);
        await hub.stopRunner(caller, params.machineId!, requestSignal(req, res));
        return [200, { status: 'stopping' }];
      },
    },
    { method: 'GET', path: '/api/v1/push/key', doc: REST_DOCS.pushKey, handler: async () => [200, { publicKey: await hub.push.publicKey() }] },
    {
      method: 'POST',
      path: '/api/v1/push/subscriptions',
      doc: REST_DOCS.pushSubscribe,
      handler: async ({ req, caller }) => {
        await hub.push.subscribe(caller, parsePushSubscription(await readJson(req)));
        return [200, { subscribed: true }];
      },
    },
    {
      method: 'POST',
      path: '/api/v1/push/subscriptions/delete',
      doc: REST_DOCS.pushUnsubscribe,
      handler: async ({ req, caller }) => {
        const body = await readJson(req);
        const endpoint = optString(body, 'endpoint', 2048);
        if (!endpoint) throw new InvalidArgumentError('endpoint is required');
        return [200, { deleted: await hub.push.unsubscribe(caller, endpoint) }];
      },
    },
    { method: 'GET', path: '/api/v1/notifications/settings', doc: REST_DOCS.notifySettings, handler: async ({ caller }) => [200, await hub.getNotifySettings(caller)] },
    {
      method: 'POST',
      path: '/api/v1/notifications/settings',
      doc: REST_DOCS.setNotifySettings,
      handler: async ({ req, caller }) => [200, await hub.setNotifySettings(caller, { notifyOnExit: requiredBool(await readJson(req), 'notifyOnExit') })],
    },
    {
      method: 'POST',
      path: '/api/v1/machines/:machineId/sessions/:sessionId/mute',
      doc: REST_DOCS.muteSession,
      handler: async ({ req, params, caller }) => {
        const muted = requiredBool(await readJson(req), 'muted');
        await hub.muteSession(caller, params.machineId!, params.sessionId!, muted);
        return [200, { muted }];
      },
    },
    {
      method: 'POST',
      path: '/api/v1/machines/:machineId/sessions/:sessionId/approvals/:requestId',
      doc: REST_DOCS.decideApproval,
      handler: async ({ req, res, params, caller, fromPage }) => {
        const body = await readJson(req);
        const decision = body.decision;
        if (decision !== 'allow' && decision !== 'deny' && decision !== 'allow_session') throw new InvalidArgumentError('decision must be "allow", "deny" or "allow_session"');
        if (body.message !== undefined && typeof body.message !== 'string') throw new InvalidArgumentError('message must be a string');
        // The page's sign-in decides from the page, or from a Web Push notification (its service
        // worker says so); anything else says CLI or is API.
        const origin = fromPage ? (body.origin === 'push' ? 'push' : 'page') : body.origin === 'cli' ? 'cli' : 'api';
        const call = { requestId: params.requestId!, decision, message: clipActivityText((body.message as string | undefined) ?? '') } as const;
        const record = await hub.decideApproval(caller, params.machineId!, params.sessionId!, call, origin, requestSignal(req, res));
        return [200, { decision: decisionRecordJson(record) }];
      },
    },
    {
      method: 'GET',
      path: '/api/v1/machines/:machineId/sessions/:sessionId/approvals',
      doc: REST_DOCS.listApprovals,
      handler: async ({ params, caller }) => [200, { decisions: (await hub.listApprovalDecisions(caller, params.machineId!, params.sessionId!)).map(decisionRecordJson) }],
    },
  ]);

  const handle = jsonHandler(async (req, res, given?: Caller) => {
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    // Who asks comes first: an unauthenticated caller learns nothing, not even which routes exist.
    const caller = given ?? (await opts.authenticate(req));
    const { handler, params } = table.lookup(req.method, url.pathname);
    return handler({ req, res, url, params, caller, fromPage: given !== undefined });
  }, opts.log);
  return Object.assign(handle, { routes: table.routes() });
}
