/**
 * The web layer in front of the hub's REST view: serves the page, signs people in (`/auth/*`,
 * with a hub token or Telegram Mini App initData) into a server-side session held by an
 * HttpOnly cookie, and mounts the REST handler under `/api/`, handing it the caller of the
 * cookie session. It holds no business logic: every question about machines and sessions goes
 * to the REST view.
 *
 *   const web = createWebLayer({ verifyToken, verifyTokenId, telegram: webConfig(env).telegram });
 *   const handler = web.handler(rest);   // rest: the hub's REST handler (bearer auth of its own)
 *
 * Rules: every response carries the security headers (a strict CSP among them); a cookie
 * session may change state only with its CSRF token in X-CSRF-Token and a same-origin Origin;
 * a request with `Authorization: Bearer` is left to the REST view as it is (tools, the CLI).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError, isHapiError } from '../../shared/errors.js';
import { readJsonObject } from '../../shared/http/body.js';
import { jsonHandler, sendJson, type HttpHandler } from '../../shared/http/reply.js';
import { createRouteTable } from '../../shared/http/routes.js';
import type { TelegramConfig } from '../../shared/config-web.js';
import { tokenScopeJson } from '../../contract/hub.js';
import type { TokenScope } from '../../contract/types.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import {
  securityHeaders, checkCsrfToken, checkOrigin, isSafeMethod, isSecureRequest, sessionCookie, sessionIdOf,
} from './http-security.js';
import { defaultWebRoot, loadStaticSite } from './static-files.js';
import { verifyInitData } from './telegram.js';
import { createSignInGuard, type SignInLimits } from './sign-in-limits.js';
import { createAttachTickets, createSharedAttachTickets } from './attach-tickets.js';
import type { OneTimeCodeStore, SharedRateLimitStore } from '../domain/ports.js';
import type { AttachBackend } from './attach-socket.js';
import { createAttachUpgrade, pathOf } from './attach-upgrade.js';
import { DEFAULT_SESSION_OPTIONS, createWebSessionStore, credentialKey, sessionCookieValid, sessionKey, type Credential, type WebSession, type WebSessionStoreOptions } from './web-sessions.js';

/**
 * Who a request acts for: one namespace, whether with the owner token, the id of the token
 * (the hub ends a token's event streams when it is revoked) and its scope. A Telegram sign-in
 * has no hub token: its tokenId is `telegram:<user id>`, which no hub token ever has, and its
 * scope is full. A sign-in stores the token's id, so its scope is always the token's own: a
 * read-only token's sign-in is read-only.
 */
export interface WebCaller {
  namespace: string;
  owner: boolean;
  tokenId: string;
  scope: TokenScope;
}

/** What the page is told about its caller (sign-in and /auth/session): the scope as its proto3 JSON name. */
function callerJson(caller: WebCaller) {
  return { namespace: caller.namespace, owner: caller.owner, scope: tokenScopeJson(caller.scope) };
}

export interface WebLayerOptions<C extends WebCaller = WebCaller> {
  /** Resolves a hub token to its caller; throws UnauthenticatedError for an unknown or revoked token. */
  verifyToken: (token: string) => C | Promise<C>;
  /** The same for the id of a token (what a stored sign-in keeps instead of the secret). */
  verifyTokenId: (tokenId: string) => C | Promise<C>;
  /** Uses up a one-time sign-in link's code (POST /auth/login {code}); off when undefined. */
  redeemSignInLink?: (code: string) => C | Promise<C>;
  /** Telegram Mini App sign-in; off when undefined. */
  telegram?: TelegramConfig;
  /** The built page (default: defaultWebRoot()). */
  webRoot?: string;
  /** Origins allowed to make state-changing requests (HAPI_WEB_ORIGINS); empty: the request's own host. */
  allowedOrigins?: readonly string[];
  sessions?: Partial<WebSessionStoreOptions>;
  /** Where attach tickets wait (the hub database: a ticket from one replica works on any, once); in memory when undefined. */
  oneTimeCodes?: OneTimeCodeStore;
  /** Sign-in rate limits counted where every replica counts (PostgreSQL); absent: in memory. */
  sharedRateLimits?: SharedRateLimitStore;
  /** Sign-in rate limits (default DEFAULT_SIGN_IN_LIMITS); their clock is sessions.now. */
  signInLimits?: Partial<SignInLimits>;
  /** HAPI_WEB_TRUSTED_PROXIES: proxies whose X-Forwarded-For names the client; none by default. */
  trustedProxies?: readonly string[];
  /** Origins allowed to show the page in an iframe (CSP frame-ancestors); empty: none. */
  frameAncestors?: readonly string[];
  logger?: Logger;
  /**
   * The hub's side of a terminal attached over a WebSocket, for one caller; without it the
   * attach endpoint answers 404. NotFound/PermissionDenied from it end the socket as usual.
   */
  attach?: (caller: C, machineId: string, sessionId: string) => AttachBackend;
  /** ws.bufferedAmount past which a WebSocket viewer's backlog is dropped for a fresh snapshot (default 1 MiB). */
  socketBufferBytes?: number;
}

/** A node:http request handler that resolves when it is done with the request. */
export type WebHandler = HttpHandler;

/** The REST view as the web layer mounts it: `caller` is set for a cookie session, unset for a bearer request. */
export type RestHandler<C extends WebCaller = WebCaller> = (req: IncomingMessage, res: ServerResponse, caller?: C) => unknown;

/** node:http's `upgrade` listener. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface WebLayer<C extends WebCaller = WebCaller> {
  /** The request handler: the page, `/auth/*`, and `/api/*` mounted on `restHandler`. */
  handler(restHandler: RestHandler<C>): WebHandler;
  /** Upgrades `/api/v1/machines/{m}/sessions/{s}/attach` to a WebSocket viewer; anything else is refused. */
  upgrade: UpgradeHandler;
  /** Ends open responses of signed-in pages (event streams) so the server can close. */
  close(): void;
}

/** Sign-in bodies are a token or Telegram's initData: small. */
const MAX_BODY_BYTES = 16 * 1024;

type WebRoute = (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<void> | void;

export function createWebLayer<C extends WebCaller = WebCaller>(opts: WebLayerOptions<C>): WebLayer<C> {
  const log = opts.logger ?? silentLogger();
  const site = loadStaticSite(opts.webRoot ?? defaultWebRoot());
  if (!site.built) log.warn({ root: site.root }, 'web page not built (run `npm run build`); serving the API only');
  const sessions = createWebSessionStore(opts.sessions);
  const guard = createSignInGuard({ limits: opts.signInLimits, trustedProxies: opts.trustedProxies, now: opts.sessions?.now, shared: opts.sharedRateLimits });
  const originPolicy = { allowedOrigins: opts.allowedOrigins ?? [] };
  const openResponses = new Map<string, Set<ServerResponse>>();
  const headers = securityHeaders(opts.frameAncestors ?? []);
  const cookieMaxAgeS = Math.floor((opts.sessions?.maxLifetimeMs ?? DEFAULT_SESSION_OPTIONS.maxLifetimeMs) / 1000);
  const tickets = opts.oneTimeCodes ? createSharedAttachTickets(opts.oneTimeCodes, opts.sessions?.now) : createAttachTickets(opts.sessions?.now);

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
    return { namespace, owner: false, tokenId: `telegram:${userId}`, scope: 'full' } as C;
  }

  /** The session of the request's cookie and its current caller; ends the session if its credential no longer holds. */
  /** The cookie's sign-in; with replicas, as the table has it now (made or ended on any replica). */
  async function currentSession(req: IncomingMessage): Promise<WebSession | undefined> {
    const cookie = sessionIdOf(req);
    if (cookie && sessionCookieValid(cookie)) await sessions.refresh(sessionKey(cookie));
    return sessions.get(cookie);
  }

  async function sessionOf(req: IncomingMessage): Promise<{ session: WebSession; caller: C } | undefined> {
    const session = await currentSession(req);
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
  async function startSession(req: IncomingMessage, res: ServerResponse, credential: Credential, caller: WebCaller, embedded = false): Promise<void> {
    const previous = sessionIdOf(req);
    if (previous) sessions.delete(sessionKey(previous));
    const { session, cookie } = sessions.create(credential);
    // Replicas: stored before it is answered, so the page's next request may reach any replica.
    await sessions.saved();
    res.setHeader('Set-Cookie', sessionCookie(cookie, { secure: isSecureRequest(req), maxAgeS: cookieMaxAgeS }));
    log.info({ namespace: caller.namespace, owner: caller.owner, scope: caller.scope, via: credential.kind }, 'web sign-in');
    sendJson(res, 200, {
      ...callerJson(caller),
      csrfToken: session.csrfToken,
      via: credential.kind,
      ...(embedded ? { sessionToken: cookie } : {}),
    });
  }

  function requireOrigin(req: IncomingMessage): void {
    const refused = checkOrigin(req, originPolicy);
    if (refused) throw new PermissionDeniedError(refused);
  }

  const readJson = (req: IncomingMessage) => readJsonObject(req, { limit: MAX_BODY_BYTES, contentType: 'always' });

  async function authSession(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const current = await sessionOf(req);
    if (!current) throw new UnauthenticatedError('not signed in');
    const { session, caller } = current;
    sendJson(res, 200, { ...callerJson(caller), csrfToken: session.csrfToken, via: session.credential.kind });
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requireOrigin(req);
    await guard.checkAddress(req);
    const body = await readJson(req);
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    // Or a one-time sign-in link's code (the page found it in its URL's fragment).
    const code = typeof body.code === 'string' ? body.code.trim() : '';
    if (!token && !(code && opts.redeemSignInLink)) throw new InvalidArgumentError('enter a token');
    let caller: WebCaller;
    try {
      caller = await (token ? opts.verifyToken(token) : opts.redeemSignInLink!(code));
    } catch (err) {
      if (isHapiError(err) && err.kind === 'Unauthenticated') {
        log.info(token ? 'web sign-in refused: invalid token' : 'web sign-in refused: invalid, used or expired sign-in link');
        throw token ? new UnauthenticatedError('invalid token') : err;
      }
      throw err;
    }
    const credential: Credential = { kind: 'token', tokenId: caller.tokenId };
    await guard.checkCredential(credentialKey(credential));
    await startSession(req, res, credential, caller);
  }

  async function telegramLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requireOrigin(req);
    await guard.checkAddress(req);
    const body = await readJson(req);
    if (!opts.telegram) throw new NotFoundError('Telegram sign-in is not configured on this hub');
    const { user } = verifyInitData(typeof body.initData === 'string' ? body.initData : '', opts.telegram.botToken, {
      maxAgeMs: opts.telegram.maxAgeMs,
    });
    const namespace = opts.telegram.users.get(user.id);
    if (namespace === undefined) {
      log.info({ telegramUser: user.id }, 'web sign-in refused: Telegram user not mapped to a namespace');
      throw new PermissionDeniedError(`Telegram user ${user.id} is not allowed on this hub`);
    }
    const credential: Credential = { kind: 'telegram', userId: user.id };
    await guard.checkCredential(credentialKey(credential));
    await startSession(req, res, credential, telegramCaller(namespace, user.id), body.embedded === true);
  }

  async function logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requireOrigin(req);
    const session = await currentSession(req);
    if (session) {
      const refused = checkCsrfToken(req, session.csrfToken);
      if (refused) throw new PermissionDeniedError(refused);
      sessions.delete(session.key);
      await sessions.saved();
    }
    res.setHeader('Set-Cookie', sessionCookie('', { secure: isSecureRequest(req), maxAgeS: 0 }));
    sendJson(res, 200, { success: true });
  }

  /** `/api/*`: a bearer request goes to the REST view as it is; a cookie session only with its caller (and CSRF rules). */
  async function api(req: IncomingMessage, res: ServerResponse, restHandler: RestHandler<C>): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    // Tools and the CLI send their token; no ambient credential is involved, so no CSRF rules.
    if (req.headers.authorization !== undefined) {
      await restHandler(req, res);
      return;
    }
    const current = await sessionOf(req);
    if (!current) throw new UnauthenticatedError('not signed in');
    if (!isSafeMethod(req.method)) {
      requireOrigin(req);
      const refused = checkCsrfToken(req, current.session.csrfToken);
      if (refused) throw new PermissionDeniedError(refused);
    }
    const id = current.session.key;
    let open = openResponses.get(id);
    if (!open) openResponses.set(id, (open = new Set()));
    open.add(res);
    res.on('close', () => openResponses.get(id)?.delete(res));
    await restHandler(req, res, current.caller);
  }

  /** POST /api/v1/attach-tickets {machineId, sessionId}: a one-time ticket for the attach URL (cookie sign-ins, CSRF rules). */
  async function attachTicket(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    if (req.headers.authorization !== undefined) throw new InvalidArgumentError('attach tickets are for web sign-ins; a token goes in the Authorization header of the upgrade');
    const current = await sessionOf(req);
    if (!current) throw new UnauthenticatedError('not signed in');
    requireOrigin(req);
    const refused = checkCsrfToken(req, current.session.csrfToken);
    if (refused) throw new PermissionDeniedError(refused);
    const body = await readJson(req);
    const machineId = typeof body.machineId === 'string' ? body.machineId : '';
    const sessionId = typeof body.sessionId === 'string' ? body.sessionId : '';
    if (!machineId || !sessionId || machineId.length > 200 || sessionId.length > 200) throw new InvalidArgumentError('machineId and sessionId are required');
    const { ticket, expiresAt } = await tickets.issue(current.session.key, machineId, sessionId);
    sendJson(res, 200, { ticket, expiresAt: new Date(expiresAt).toISOString() });
  }

  /** Who an upgrade acts for: a one-time ticket, else the cookie (or session header), else a bearer token. */
  async function upgradeCaller(req: IncomingMessage, machineId: string, sessionId: string): Promise<C> {
    const ticket = new URL(req.url ?? '/', 'http://hub').searchParams.get('ticket');
    if (ticket) {
      const key = await tickets.redeem(ticket, machineId, sessionId);
      if (key !== undefined) await sessions.refresh(key);
      const session = key === undefined ? undefined : sessions.getByKey(key);
      if (!session) throw new UnauthenticatedError('invalid or used attach ticket');
      return resolveCredential(session.credential);
    }
    if (req.headers.authorization !== undefined) {
      try {
        return await opts.verifyToken(req.headers.authorization.replace(/^Bearer\s+/i, ''));
      } catch {
        throw new UnauthenticatedError('invalid token');
      }
    }
    const current = await sessionOf(req);
    if (!current) throw new UnauthenticatedError('not signed in');
    return current.caller;
  }

  const attachUpgrade = createAttachUpgrade<C>({
    attach: opts.attach,
    callerOf: upgradeCaller,
    originPolicy,
    sendBufferBytes: opts.socketBufferBytes ?? 1024 * 1024,
    log,
  });

  function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    if (site.serve(req, res, pathname)) return;
    if (!site.built && pathname === '/') {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end('The web page is not built: run `npm run build`.\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
  }

  return {
    handler(restHandler) {
      const table = createRouteTable<WebRoute>([
        { method: 'GET', path: '/auth/session', handler: authSession },
        { method: 'POST', path: '/auth/login', handler: login },
        { method: 'POST', path: '/auth/telegram', handler: telegramLogin },
        { method: 'POST', path: '/auth/logout', handler: logout },
        { method: 'POST', path: '/api/v1/attach-tickets', handler: attachTicket },
        {
          method: '*',
          path: '/auth/*',
          handler: (req, _res, pathname) => {
            throw new NotFoundError(`no route for ${req.method} ${pathname}`);
          },
        },
        { method: '*', path: '/api/*', handler: (req, res) => api(req, res, restHandler) },
        // The page's files answer GET/HEAD (and 405 for other methods) themselves.
        { method: '*', path: '/*', handler: serveStatic },
      ]);
      return jsonHandler(async (req, res) => {
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
        const pathname = pathOf(req.url);
        const { handler } = table.lookup(req.method, pathname);
        await handler(req, res, pathname);
      }, log);
    },
    upgrade: attachUpgrade.upgrade,
    close() {
      for (const set of openResponses.values()) for (const res of set) res.destroy();
      openResponses.clear();
      attachUpgrade.close();
    },
  };
}
