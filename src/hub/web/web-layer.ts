/**
 * The web layer in front of the hub's REST view: serves the page, signs people in (`/auth/*`,
 * with a hub token or Telegram Mini App initData) into a server-side session held by an
 * HttpOnly cookie, and forwards `/api/*` to the REST handler once the caller is known. It
 * holds no business logic: every question about machines and sessions goes to the REST view.
 *
 *   const web = createWebLayer({ verifyToken, telegram: telegramConfig(env) });
 *   const handler = web.handler(createHubHttpHandler({ hub, authenticate: web.authenticate }));
 *
 * Rules: every response carries the security headers (a strict CSP among them); a cookie
 * session may change state only with its CSRF token in X-CSRF-Token and a same-origin Origin;
 * a request with `Authorization: Bearer` is left to the REST view as it is (tools, the CLI).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UnauthenticatedError, isHapiError } from '../../shared/errors.js';
import { toHttpError } from '../../shared/http/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import {
  securityHeaders, checkCsrfToken, checkOrigin, isSafeMethod, isSecureRequest, sessionCookie, sessionIdOf,
} from './http-security.js';
import { defaultWebRoot, loadStaticSite } from './static-files.js';
import { verifyInitData, type TelegramConfig } from './telegram.js';
import { DEFAULT_SESSION_OPTIONS, createWebSessionStore, sessionKey, type Credential, type WebSession, type WebSessionStoreOptions } from './web-sessions.js';

/**
 * Who a request acts for: one namespace, whether with the owner token, and the id of the token
 * (the hub ends a token's event streams when it is revoked). A Telegram sign-in has no hub
 * token: its tokenId is `telegram:<user id>`, which no hub token ever has.
 */
export interface WebCaller {
  namespace: string;
  owner: boolean;
  tokenId: string;
}

export interface WebLayerOptions<C extends WebCaller = WebCaller> {
  /** Resolves a hub token to its caller; throws UnauthenticatedError for an unknown or revoked token. */
  verifyToken: (token: string) => C | Promise<C>;
  /** The same for the id of a token (what a stored sign-in keeps instead of the secret). */
  verifyTokenId: (tokenId: string) => C | Promise<C>;
  /** Telegram Mini App sign-in; off when undefined. */
  telegram?: TelegramConfig;
  /** The built page (default: defaultWebRoot()). */
  webRoot?: string;
  /** Origins allowed to make state-changing requests (HAPI_WEB_ORIGINS); empty: the request's own host. */
  allowedOrigins?: readonly string[];
  sessions?: Partial<WebSessionStoreOptions>;
  /** Origins allowed to show the page in an iframe (CSP frame-ancestors); empty: none. */
  frameAncestors?: readonly string[];
  logger?: Logger;
}

/** A node:http request handler that resolves when it is done with the request. */
export type WebHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface WebLayer<C extends WebCaller = WebCaller> {
  /** The request handler: the page, `/auth/*`, and `/api/*` forwarded to `restHandler`. */
  handler(restHandler: (req: IncomingMessage, res: ServerResponse) => unknown): WebHandler;
  /**
   * For the REST view: the caller of a request the web layer forwarded (its cookie session),
   * else the caller of its bearer token. Throws UnauthenticatedError.
   */
  authenticate(req: IncomingMessage): Promise<C>;
  /** Ends open responses of signed-in pages (event streams) so the server can close. */
  close(): void;
}

const MAX_BODY_BYTES = 16 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code: string) {
    super(message);
  }
}

export function createWebLayer<C extends WebCaller = WebCaller>(opts: WebLayerOptions<C>): WebLayer<C> {
  const log = opts.logger ?? silentLogger();
  const site = loadStaticSite(opts.webRoot ?? defaultWebRoot());
  if (!site.built) log.warn({ root: site.root }, 'web page not built (run `npm run build`); serving the API only');
  const sessions = createWebSessionStore(opts.sessions);
  const originPolicy = { allowedOrigins: opts.allowedOrigins ?? [] };
  const callers = new WeakMap<IncomingMessage, C>();
  const openResponses = new Map<string, Set<ServerResponse>>();
  const headers = securityHeaders(opts.frameAncestors ?? []);
  const cookieMaxAgeS = Math.floor((opts.sessions?.maxLifetimeMs ?? DEFAULT_SESSION_OPTIONS.maxLifetimeMs) / 1000);

  sessions.onEnd((id) => {
    for (const res of openResponses.get(id) ?? []) res.destroy();
    openResponses.delete(id);
  });

  async function resolveCredential(credential: Credential): Promise<C> {
    if (credential.kind === 'token') return opts.verifyTokenId(credential.tokenId);
    const namespace = opts.telegram?.users.get(credential.userId);
    if (namespace === undefined) throw new UnauthenticatedError('this Telegram user is no longer allowed');
    return telegramCaller(namespace, credential.userId);
  }

  function telegramCaller(namespace: string, userId: number): C {
    // Never the owner: a Telegram user sees exactly one namespace.
    return { namespace, owner: false, tokenId: `telegram:${userId}` } as C;
  }

  /** The session of the request's cookie and its current caller; ends the session if its credential no longer holds. */
  async function sessionOf(req: IncomingMessage): Promise<{ session: WebSession; caller: C } | undefined> {
    const session = sessions.get(sessionIdOf(req));
    if (!session) return undefined;
    try {
      return { session, caller: await resolveCredential(session.credential) };
    } catch (err) {
      if (!(isHapiError(err) && err.kind === 'Unauthenticated')) throw err;
      log.info({ via: session.credential.kind }, 'web session ended: its credential is no longer valid');
      sessions.delete(session.key);
      return undefined;
    }
  }

  /**
   * Signs in: sets the cookie and answers with the CSRF token. `embedded` (a Telegram Web iframe,
   * where the cookie never comes back) also hands the page the session id for the session header.
   */
  function startSession(req: IncomingMessage, res: ServerResponse, credential: Credential, caller: WebCaller, embedded = false): void {
    const previous = sessionIdOf(req);
    if (previous) sessions.delete(sessionKey(previous));
    const { session, cookie } = sessions.create(credential);
    res.setHeader('Set-Cookie', sessionCookie(cookie, { secure: isSecureRequest(req), maxAgeS: cookieMaxAgeS }));
    log.info({ namespace: caller.namespace, owner: caller.owner, via: credential.kind }, 'web sign-in');
    sendJson(res, 200, {
      namespace: caller.namespace,
      owner: caller.owner,
      csrfToken: session.csrfToken,
      via: credential.kind,
      ...(embedded ? { sessionToken: cookie } : {}),
    });
  }

  function requireOrigin(req: IncomingMessage): void {
    const refused = checkOrigin(req, originPolicy);
    if (refused) throw new HttpError(403, refused, 'PermissionDenied');
  }

  async function handleAuth(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    const route = `${req.method} ${pathname}`;
    switch (route) {
      case 'GET /auth/session': {
        const current = await sessionOf(req);
        if (!current) throw new HttpError(401, 'not signed in', 'Unauthenticated');
        const { session, caller } = current;
        sendJson(res, 200, { namespace: caller.namespace, owner: caller.owner, csrfToken: session.csrfToken, via: session.credential.kind });
        return;
      }
      case 'POST /auth/login': {
        requireOrigin(req);
        const body = await readJsonBody(req);
        const token = typeof body.token === 'string' ? body.token.trim() : '';
        if (!token) throw new HttpError(400, 'enter a token', 'InvalidArgument');
        let caller: WebCaller;
        try {
          caller = await opts.verifyToken(token);
        } catch (err) {
          if (isHapiError(err) && err.kind === 'Unauthenticated') {
            log.info('web sign-in refused: invalid token');
            throw new HttpError(401, 'invalid token', 'Unauthenticated');
          }
          throw err;
        }
        startSession(req, res, { kind: 'token', tokenId: caller.tokenId }, caller);
        return;
      }
      case 'POST /auth/telegram': {
        requireOrigin(req);
        const body = await readJsonBody(req);
        if (!opts.telegram) throw new HttpError(404, 'Telegram sign-in is not configured on this hub', 'NotFound');
        const { user } = verifyInitData(typeof body.initData === 'string' ? body.initData : '', opts.telegram.botToken, {
          maxAgeMs: opts.telegram.maxAgeMs,
        });
        const namespace = opts.telegram.users.get(user.id);
        if (namespace === undefined) {
          log.info({ telegramUser: user.id }, 'web sign-in refused: Telegram user not mapped to a namespace');
          throw new HttpError(403, `Telegram user ${user.id} is not allowed on this hub`, 'PermissionDenied');
        }
        startSession(req, res, { kind: 'telegram', userId: user.id }, telegramCaller(namespace, user.id), body.embedded === true);
        return;
      }
      case 'POST /auth/logout': {
        requireOrigin(req);
        const session = sessions.get(sessionIdOf(req));
        if (session) {
          const refused = checkCsrfToken(req, session.csrfToken);
          if (refused) throw new HttpError(403, refused, 'PermissionDenied');
          sessions.delete(session.key);
        }
        res.setHeader('Set-Cookie', sessionCookie('', { secure: isSecureRequest(req), maxAgeS: 0 }));
        sendJson(res, 200, { success: true });
        return;
      }
      default:
        throw new HttpError(404, `no route ${route}`, 'NotFound');
    }
  }

  async function handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    restHandler: (req: IncomingMessage, res: ServerResponse) => unknown,
  ): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    // Tools and the CLI send their token; no ambient credential is involved, so no CSRF rules.
    if (req.headers.authorization !== undefined) {
      await restHandler(req, res);
      return;
    }
    const current = await sessionOf(req);
    if (!current) throw new HttpError(401, 'not signed in', 'Unauthenticated');
    if (!isSafeMethod(req.method)) {
      requireOrigin(req);
      const refused = checkCsrfToken(req, current.session.csrfToken);
      if (refused) throw new HttpError(403, refused, 'PermissionDenied');
    }
    callers.set(req, current.caller);
    const id = current.session.key;
    let open = openResponses.get(id);
    if (!open) openResponses.set(id, (open = new Set()));
    open.add(res);
    res.on('close', () => openResponses.get(id)?.delete(res));
    await restHandler(req, res);
  }

  return {
    handler(restHandler) {
      return async (req, res) => {
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
        const pathname = pathOf(req.url);
        try {
          if (pathname.startsWith('/api/')) await handleApi(req, res, restHandler);
          else if (pathname.startsWith('/auth/')) await handleAuth(req, res, pathname);
          else serveStatic(req, res, pathname);
        } catch (err) {
          sendError(res, err, log);
        }
      };
    },
    async authenticate(req) {
      const caller = callers.get(req);
      if (caller) return caller;
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!match) throw new UnauthenticatedError();
      return opts.verifyToken(match[1]!);
    },
    close() {
      for (const set of openResponses.values()) for (const res of set) res.destroy();
      openResponses.clear();
    },
  };

  function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    if (site.serve(req, res, pathname)) return;
    if (!site.built && pathname === '/') {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end('The web page is not built: run `npm run build`.\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
  }
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://hub').pathname;
  } catch {
    return '/';
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  let status = 500;
  let body: Record<string, unknown> = { success: false, error: 'internal error', code: 'Internal' };
  if (err instanceof HttpError) {
    status = err.status;
    body = { success: false, error: err.message, code: err.code };
  } else if (isHapiError(err)) {
    [status, body] = toHttpError(err);
    if (!(isHapiError(err) && err.kind === 'Unauthenticated')) log.warn({ err }, 'web request failed');
  } else {
    log.error({ err }, 'web request failed');
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body);
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'expected Content-Type: application/json', 'InvalidArgument');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large', 'InvalidArgument');
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not JSON', 'InvalidArgument');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'request body must be a JSON object', 'InvalidArgument');
  }
  return parsed as Record<string, unknown>;
}
