/**
 * The runner's HTTP JSON gateway on 127.0.0.1 (random port): the documented endpoints
 * (/session-started, /list, /stop-session, /spawn-session, /stop) with their documented JSON
 * shapes. Each route only decodes, calls the same service code as gRPC, and encodes.
 *
 * Hardened, unlike a bare localhost port: Bearer token from the state file; requests with an
 * Origin or Referer header, or a Host other than 127.0.0.1/localhost:<port>, are refused
 * (browser CSRF and DNS rebinding); Content-Type must be application/json; bodies are capped
 * at 1 MiB; malformed input is a 400 naming the problem. The runner never crashes on input.
 * Routing, bodies and error bodies are the shared JSON HTTP layer's (src/shared/http/).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Logger } from 'pino';
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from '../shared/errors.js';
import { bearerMatches } from '../shared/http/bearer.js';
import { readJsonObject } from '../shared/http/body.js';
import { jsonHandler, type HttpHandler, type JsonReply } from '../shared/http/reply.js';
import { createRouteTable } from '../shared/http/routes.js';
import { parseStopTarget, TERMINAL_LABEL, type SessionInfo, type SpawnSpec } from '../contract/types.js';
import type { RunnerControl } from './runner-control.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/** How long close() lets connections with a response under way finish before cutting them. */
const CLOSE_GRACE_MS = 1_000;

type Json = Record<string, unknown>;
type Handler = (body: Json) => Promise<JsonReply>;

// ---- input validation (ts-proto's fromJSON validates nothing; the gateway decodes by hand) ----

function field<T>(body: Json, name: string, type: 'string' | 'number' | 'boolean' | 'object', required: boolean): T | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw new InvalidArgumentError(`field "${name}" is required`);
    return undefined;
  }
  if (type === 'object' ? typeof v !== 'object' || Array.isArray(v) : typeof v !== type) {
    throw new InvalidArgumentError(`field "${name}" must be a${type === 'object' ? 'n' : ''} ${type}`);
  }
  return v as T;
}

function parseStartedBy(v: string | undefined): 'runner' | 'terminal' {
  if (v === undefined || v === 'terminal' || v === TERMINAL_LABEL) return 'terminal';
  if (v === 'runner') return 'runner';
  throw new InvalidArgumentError('field "metadata.startedBy" must be "runner" or "terminal"');
}

function childJson(s: SessionInfo): Json {
  return { startedBy: s.startedBy === 'runner' ? 'runner' : TERMINAL_LABEL, happySessionId: s.id, pid: s.pid };
}

function routes(control: RunnerControl): Record<string, Handler> {
  return {
    '/session-started': async (body) => {
      const sessionId = field<string>(body, 'sessionId', 'string', true)!;
      const metadata = field<Json>(body, 'metadata', 'object', true)!;
      const hostPid = field<number>(metadata, 'hostPid', 'number', true)!;
      if (!Number.isInteger(hostPid) || hostPid <= 0) throw new InvalidArgumentError('field "metadata.hostPid" must be a positive integer');
      const startedAt = field<string>(metadata, 'startedAt', 'string', false);
      await control.sessionStarted({
        sessionId,
        hostPid,
        startedBy: parseStartedBy(field<string>(metadata, 'startedBy', 'string', false)),
        directory: field<string>(metadata, 'directory', 'string', false),
        agent: field<string>(metadata, 'agent', 'string', false),
        startedAt: startedAt ? new Date(startedAt) : undefined,
      });
      return [200, { status: 'ok' }];
    },
    '/list': async () => {
      return [200, { children: (await control.listSessions()).map(childJson) }];
    },
    '/stop-session': async (body) => {
      const sessionId = field<string>(body, 'sessionId', 'string', true)!;
      await control.stopSession(parseStopTarget(sessionId));
      return [200, { success: true }];
    },
    '/spawn-session': async (body) => {
      const worktree = body.worktree;
      let wt: SpawnSpec['worktree'];
      if (worktree === true) wt = {};
      else if (worktree !== undefined && worktree !== null && worktree !== false) {
        const w = field<Json>(body, 'worktree', 'object', false)!;
        wt = { branch: field<string>(w, 'branch', 'string', false) };
      }
      const args = body.agentArgs;
      if (args !== undefined && (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))) {
        throw new InvalidArgumentError('field "agentArgs" must be an array of strings');
      }
      const prompt = field<string>(body, 'prompt', 'string', false);
      if (prompt === '') throw new InvalidArgumentError('field "prompt" must not be empty (omit it for none)');
      const approve =
        field<boolean>(body, 'approvedNewDirectoryCreation', 'boolean', false) ??
        field<boolean>(body, 'approveCreateDirectory', 'boolean', false) ?? false;
      const outcome = await control.spawnSession({
        directory: field<string>(body, 'directory', 'string', true)!,
        agent: field<string>(body, 'agent', 'string', false),
        sessionId: field<string>(body, 'sessionId', 'string', false),
        requestId: field<string>(body, 'requestId', 'string', false),
        approveCreateDirectory: approve,
        worktree: wt,
        agentArgs: (args as string[] | undefined) ?? [],
        prompt,
      });
      if (outcome.kind === 'approval-required') {
        return [409, { success: false, requiresUserApproval: true, actionRequired: 'CREATE_DIRECTORY', directory: outcome.directory }];
      }
      const s = outcome.session;
      return [200, { success: true, sessionId: s.id, pid: s.pid, directory: s.directory, ...(s.worktree ? { worktree: s.worktree } : {}) }];
    },
    '/stop': async () => {
      control.stopRunner('cli');
      return [200, { status: 'stopping' }];
    },
  };
}

export interface GatewayOptions {
  control: RunnerControl;
  token: string;
  log: Logger;
}

export interface Gateway {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Refuses what a browser or a DNS-rebinding page could send, then anyone without the token. */
function checkCaller(req: IncomingMessage, port: number, token: string): void {
  if (req.headers.origin !== undefined || req.headers.referer !== undefined) {
    throw new PermissionDeniedError('requests with an Origin or Referer header are refused');
  }
  const host = req.headers.host ?? '';
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
    throw new PermissionDeniedError(`unexpected Host header ${JSON.stringify(host)}`);
  }
  if (!bearerMatches(req.headers.authorization, token)) {
    throw new UnauthenticatedError('missing or invalid bearer token (see controlToken in runner.state.json)');
  }
}

/** The gateway's request handler; `getPort` gives the port the Host header must name. */
export function createGatewayHandler(opts: GatewayOptions, getPort: () => number): HttpHandler {
  const table = createRouteTable(Object.entries(routes(opts.control)).map(([path, handler]) => ({ method: 'POST', path, handler })));
  return jsonHandler(async (req) => {
    // 404/405 first, as before: the documented routes are no secret.
    const { handler } = table.lookup(req.method, (req.url ?? '/').split('?')[0]!);
    checkCaller(req, getPort(), opts.token);
    return handler(await readJsonObject(req, { limit: MAX_BODY_BYTES, contentType: 'always' }));
  }, opts.log);
}

/** Starts the gateway on 127.0.0.1 at a random port. */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  let port = 0;
  const handler = createGatewayHandler(opts, () => port);
  const server = createServer({ requestTimeout: 120_000, headersTimeout: 10_000 }, (req, res) => {
    void handler(req, res);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    server,
    port,
    // By now every call in flight has been answered (the daemon's shutdown answers them first):
    // idle connections close at once, and a response still being written gets a moment to
    // reach its client before its connection is cut (never a "socket hang up" mid-answer).
    close: () =>
      new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

