/**
 * The hub's REST/JSON view of HubService on node:http. Transport only: it authenticates,
 * validates and decodes JSON, calls HubCore, and encodes proto3 JSON (the generated toJSON).
 *
 * Routes (all need a caller; see `authenticate`):
 *   GET  /api/v1/whoami                                    -> {namespace, owner}
 *   GET  /api/v1/machines                                  -> {machines: [Machine]}
 *   GET  /api/v1/sessions?machineId=&includeEnded=true     -> {sessions: [Session]}
 *   POST /api/v1/machines/:machineId/sessions              -> {session} | 409 approval required
 *   POST /api/v1/machines/:machineId/sessions/:id/stop     -> {result: "stopped"|"already-gone"}
 *   POST /api/v1/machines/:machineId/stop-runner           -> {status: "stopping"}
 *   GET  /api/v1/events                                    -> text/event-stream (`machine`, `session`)
 *
 * The web page wraps `createHubHttpHandler` with its own static files and cookie auth.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Session, sessionToProto } from '../../contract/common.js';
import { Machine, machineToProto } from '../../contract/hub.js';
import type { SpawnSpec } from '../../contract/types.js';
import { HapiError, InvalidArgumentError, NotFoundError, UnauthenticatedError, isHapiError } from '../../shared/errors.js';
import { toHttpError } from '../../shared/http/errors.js';
import type { Caller, HubEvent } from '../domain.js';
import type { HubCore } from '../hub-core.js';
import { bearerToken } from '../grpc/auth.js';

export interface HubHttpOptions {
  hub: HubCore;
  /** Resolves the caller of a request, or throws UnauthenticatedError. */
  authenticate: (req: IncomingMessage) => Caller | Promise<Caller>;
  /** Interval of SSE comment lines that keep proxies from closing idle streams. */
  sseKeepAliveMs?: number;
}

/** Handles one request; resolves when the response is finished (or handed to SSE). */
export type HubHttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const MAX_BODY_BYTES = 1024 * 1024;

/** Authenticates `Authorization: Bearer <token>` against the hub's tokens. */
export function bearerAuthenticator(hub: HubCore): (req: IncomingMessage) => Caller {
  return (req) => {
    try {
      return hub.authenticate(bearerToken(req.headers.authorization));
    } catch {
      throw new UnauthenticatedError();
    }
  };
}

export function machineJson(m: Parameters<typeof machineToProto>[0]): unknown {
  return Machine.toJSON(machineToProto(m));
}

export function sessionJson(s: Parameters<typeof sessionToProto>[0]): unknown {
  return Session.toJSON(sessionToProto(s));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HapiError('ResourceExhausted', `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (!/^application\/json\b/i.test(type)) throw new InvalidArgumentError('request body must be application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new InvalidArgumentError('request body is not valid JSON');
  }
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

const SPAWN_KEYS = new Set(['directory', 'agent', 'sessionId', 'approveCreateDirectory', 'worktree', 'requestId', 'agentArgs']);

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
  return {
    directory,
    agent: optString(body, 'agent', 200),
    sessionId: optString(body, 'sessionId', 200),
    approveCreateDirectory: approve ?? false,
    worktree,
    requestId: optString(body, 'requestId', 200),
    agentArgs: args as string[],
  };
}

function parseBool(v: string | null, name: string): boolean {
  if (v === null || v === '') return false;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new InvalidArgumentError(`${name} must be true or false`);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new InvalidArgumentError('malformed path');
  }
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
        const data = e.type === 'machine' ? machineJson(e.machine) : sessionJson(e.session);
        res.write(`event: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
      }
    } finally {
      clearInterval(ping);
      unwatch();
      res.end();
    }
    void req;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeSegment);
    if (parts[0] !== 'api' || parts[1] !== 'v1') throw new NotFoundError(`no route for ${url.pathname}`);
    const path = parts.slice(2);
    const method = req.method ?? 'GET';
    const allow = (m: string) => {
      if (method !== m) throw new HapiError('InvalidArgument', `${url.pathname} accepts ${m} only`, { allow: m });
    };
    const caller = await opts.authenticate(req);

    if (path.length === 1 && path[0] === 'whoami') {
      allow('GET');
      return sendJson(res, 200, { namespace: caller.namespace, owner: caller.owner });
    }
    if (path.length === 1 && path[0] === 'machines') {
      allow('GET');
      return sendJson(res, 200, { machines: hub.listMachines(caller).map(machineJson) });
    }
    if (path.length === 1 && path[0] === 'sessions') {
      allow('GET');
      const sessions = hub.listSessions(caller, {
        machineId: url.searchParams.get('machineId') || undefined,
        includeEnded: parseBool(url.searchParams.get('includeEnded'), 'includeEnded'),
      });
      return sendJson(res, 200, { sessions: sessions.map(sessionJson) });
    }
    if (path.length === 1 && path[0] === 'events') {
      allow('GET');
      return events(req, res, caller);
    }
    if (path[0] === 'machines' && path.length >= 3) {
      const machineId = path[1]!;
      if (path.length === 3 && path[2] === 'sessions') {
        allow('POST');
        const spec = parseSpawnBody(await readJson(req));
        const outcome = await hub.spawnSession(caller, machineId, spec, requestSignal(req, res));
        if (outcome.kind === 'approval-required') {
          return sendJson(res, 409, {
            success: false,
            requiresUserApproval: true,
            actionRequired: 'CREATE_DIRECTORY',
            directory: outcome.directory,
          });
        }
        return sendJson(res, 200, { session: sessionJson(outcome.session) });
      }
      if (path.length === 5 && path[2] === 'sessions' && path[4] === 'stop') {
        allow('POST');
        await readJson(req);
        const result = await hub.stopSession(caller, machineId, path[3]!, requestSignal(req, res));
        return sendJson(res, 200, { result });
      }
      if (path.length === 3 && path[2] === 'stop-runner') {
        allow('POST');
        await readJson(req);
        await hub.stopRunner(caller, machineId, requestSignal(req, res));
        return sendJson(res, 200, { status: 'stopping' });
      }
    }
    throw new NotFoundError(`no route for ${method} ${url.pathname}`);
  }

  return async (req, res) => {
    try {
      await route(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const [status, body] = toHttpError(err);
      const allow = isHapiError(err) ? err.details?.allow : undefined;
      if (typeof allow === 'string') {
        res.setHeader('allow', allow);
        return sendJson(res, 405, body);
      }
      if (isHapiError(err) && err.kind === 'Unauthenticated') res.setHeader('www-authenticate', 'Bearer');
      sendJson(res, status, body);
    }
  };
}
