/**
 * The browser-facing security rules of the hub's HTTP server, as small pure functions: the
 * session cookie, the CSRF rules for state-changing requests, and the headers every response
 * carries (a strict Content-Security-Policy among them).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { secretsEqual } from '../../shared/http/bearer.js';

export const CSRF_HEADER = 'x-csrf-token';

/**
 * No inline script or style, nothing from another origin, no plugins, forms only to this
 * origin. `connect-src 'self'` covers fetch and the event stream of live updates. Framing is
 * refused unless `frameAncestors` names who may embed the page (Telegram Web opens Mini Apps
 * in an iframe on https://web.telegram.org).
 */
export function contentSecurityPolicy(frameAncestors: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    // The page's service worker (/sw.js: installable page, Web Push).
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors.length > 0 ? frameAncestors.join(' ') : "'none'"}`,
  ].join('; ');
}

/** Headers set on every response of the hub's HTTP server. */
export function securityHeaders(frameAncestors: readonly string[] = []): Readonly<Record<string, string>> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(frameAncestors),
    'X-Content-Type-Options': 'nosniff',
    // No allow-list form exists; browsers that know frame-ancestors ignore it anyway.
    ...(frameAncestors.length === 0 ? { 'X-Frame-Options': 'DENY' } : {}),
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  };
}

/** Whether the request arrived over TLS (then the cookie is Secure and __Host- prefixed). */
export function isSecureRequest(req: IncomingMessage): boolean {
  return Boolean((req.socket as TLSSocket).encrypted);
}

export function sessionCookieName(secure: boolean): string {
  // __Host- makes the browser refuse the cookie unless Secure, Path=/ and no Domain.
  return secure ? '__Host-hapi_session' : 'hapi_session';
}

/** Parses a Cookie header; the first occurrence of a name wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/**
 * Header that carries the session id where the cookie cannot travel: a page embedded in another
 * site's iframe (Telegram Web) gets no SameSite=Strict cookie, so it keeps the id in memory and
 * sends it here. A custom header cannot be sent cross-site without a CORS preflight, which the
 * hub never grants, so this is no weaker against CSRF than the cookie.
 */
export const SESSION_HEADER = 'x-hapi-session';

/** The session id from the request's cookie, else from the session header, if any. */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  const fromCookie = parseCookies(req.headers.cookie).get(sessionCookieName(isSecureRequest(req)));
  if (fromCookie) return fromCookie;
  const fromHeader = req.headers[SESSION_HEADER];
  return typeof fromHeader === 'string' && fromHeader ? fromHeader : undefined;
}

/**
 * Set-Cookie for a session id: HttpOnly (no script can read it), SameSite=Strict (never sent
 * on a request another site starts), Path=/, Secure over TLS. `maxAgeS` 0 deletes it.
 */
export function sessionCookie(id: string, opts: { secure: boolean; maxAgeS: number }): string {
  const parts = [`${sessionCookieName(opts.secure)}=${id}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${opts.maxAgeS}`];
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}

export function isSafeMethod(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

export interface OriginPolicy {
  /** Exact origins (scheme://host[:port]) allowed to make state-changing requests. Empty: the request's own Host. */
  allowedOrigins: readonly string[];
}

/**
 * Checks that a state-changing request was started by this page: a browser always sends
 * Origin on such requests, so a missing, "null" or foreign Origin is refused, as is a
 * Sec-Fetch-Site other than same-origin. Returns why it was refused, or undefined.
 */
export function checkOrigin(req: IncomingMessage, policy: OriginPolicy): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `cross-site request refused (Sec-Fetch-Site: ${String(site)})`;
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return 'request without an Origin refused';
  if (policy.allowedOrigins.length > 0) {
    return policy.allowedOrigins.includes(origin) ? undefined : `origin ${origin} is not allowed`;
  }
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return 'request with a malformed Origin refused';
  }
  const host = req.headers.host;
  if (!host) return 'request without a Host refused';
  // Normalise the Host header the way the Origin was (case, the scheme's default port).
  if (!/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host)) return 'request with a malformed Host refused';
  let expected: string;
  try {
    expected = new URL(`${parsed.protocol}//${host}`).host;
  } catch {
    return 'request with a malformed Host refused';
  }
  return parsed.host === expected ? undefined : `origin ${origin} is not allowed`;
}

/** Checks the X-CSRF-Token header against the session's token (constant time). */
export function checkCsrfToken(req: IncomingMessage, expected: string): string | undefined {
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || sent.length === 0) return 'missing CSRF token';
  return secretsEqual(sent, expected) ? undefined : 'bad CSRF token';
}
