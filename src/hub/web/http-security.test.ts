import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import {
  contentSecurityPolicy, securityHeaders, sessionIdOf, checkCsrfToken, checkOrigin, parseCookies, sessionCookie, sessionCookieName,
} from './http-security.js';

const req = (headers: Record<string, string>) => ({ headers, socket: {} }) as unknown as IncomingMessage;
const samePolicy = { allowedOrigins: [] };

describe('session cookie', () => {
  it('is HttpOnly, SameSite=Strict and site-wide; Secure and __Host- prefixed over TLS', () => {
    const plain = sessionCookie('abc', { secure: false, maxAgeS: 60 });
    expect(plain).toBe('hapi_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60');
    const tls = sessionCookie('abc', { secure: true, maxAgeS: 60 });
    expect(tls).toBe('__Host-hapi_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure');
    expect(sessionCookie('', { secure: false, maxAgeS: 0 })).toContain('Max-Age=0');
    expect(sessionCookieName(true)).toBe('__Host-hapi_session');
  });

  it('parses Cookie headers; the first occurrence wins', () => {
    const cookies = parseCookies('a=1; hapi_session=xyz; b="q"; hapi_session=evil; junk; =x');
    expect(cookies.get('hapi_session')).toBe('xyz');
    expect(cookies.get('b')).toBe('q');
    expect(cookies.get('a')).toBe('1');
    expect(parseCookies(undefined).size).toBe(0);
  });
});

describe('checkOrigin', () => {
  it('accepts a same-origin request', () => {
    expect(checkOrigin(req({ host: '127.0.0.1:3738', origin: 'http://127.0.0.1:3738', 'sec-fetch-site': 'same-origin' }), samePolicy)).toBeUndefined();
    expect(checkOrigin(req({ host: 'Hub.example', origin: 'https://hub.example' }), samePolicy)).toBeUndefined();
    expect(checkOrigin(req({ host: 'hub.example:443', origin: 'https://hub.example' }), samePolicy)).toBeUndefined();
    expect(checkOrigin(req({ host: '[::1]:3738', origin: 'http://[::1]:3738' }), samePolicy)).toBeUndefined();
  });

  it('refuses a missing, null, malformed or foreign Origin, and cross-site fetch metadata', () => {
    expect(checkOrigin(req({ host: 'hub:1' }), samePolicy)).toMatch(/without an Origin/);
    expect(checkOrigin(req({ origin: 'http://hub:1' }), samePolicy)).toMatch(/without a Host/);
    expect(checkOrigin(req({ host: 'hub:1/x@evil', origin: 'http://hub:1' }), samePolicy)).toMatch(/malformed Host/);
    expect(checkOrigin(req({ host: 'hub:1', origin: 'null' }), samePolicy)).toMatch(/without an Origin/);
    expect(checkOrigin(req({ host: 'hub:1', origin: 'not a url' }), samePolicy)).toMatch(/malformed/);
    expect(checkOrigin(req({ host: 'hub:1', origin: 'http://evil.example' }), samePolicy)).toMatch(/not allowed/);
    expect(checkOrigin(req({ host: 'hub:1', origin: 'http://hub:2' }), samePolicy)).toMatch(/not allowed/);
    expect(checkOrigin(req({ host: 'hub:1', origin: 'http://hub:1', 'sec-fetch-site': 'cross-site' }), samePolicy)).toMatch(/cross-site/);
    expect(checkOrigin(req({ host: 'hub:1', origin: 'http://hub:1', 'sec-fetch-site': 'same-site' }), samePolicy)).toMatch(/same-site/);
  });

  it('with configured origins, accepts exactly those (a proxy that rewrites Host)', () => {
    const policy = { allowedOrigins: ['https://hapi.example.com'] };
    expect(checkOrigin(req({ host: '127.0.0.1:3738', origin: 'https://hapi.example.com' }), policy)).toBeUndefined();
    expect(checkOrigin(req({ host: '127.0.0.1:3738', origin: 'http://127.0.0.1:3738' }), policy)).toMatch(/not allowed/);
  });
});

describe('checkCsrfToken', () => {
  it('requires the exact token in X-CSRF-Token', () => {
    expect(checkCsrfToken(req({ 'x-csrf-token': 'secret' }), 'secret')).toBeUndefined();
    expect(checkCsrfToken(req({}), 'secret')).toMatch(/missing/);
    expect(checkCsrfToken(req({ 'x-csrf-token': '' }), 'secret')).toMatch(/missing/);
    expect(checkCsrfToken(req({ 'x-csrf-token': 'secreT' }), 'secret')).toMatch(/bad/);
  });
});

describe('Content-Security-Policy', () => {
  it('allows no inline or foreign script, style or connection, and no framing', () => {
    const csp = contentSecurityPolicy();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-|https?:|\*/);
    expect(securityHeaders()['X-Frame-Options']).toBe('DENY');
  });

  it('lets only the named origins frame the page, and changes nothing else', () => {
    const csp = contentSecurityPolicy(['https://web.telegram.org']);
    expect(csp).toContain('frame-ancestors https://web.telegram.org');
    expect(csp.replace('frame-ancestors https://web.telegram.org', "frame-ancestors 'none'")).toBe(contentSecurityPolicy());
    expect(securityHeaders(['https://web.telegram.org'])['X-Frame-Options']).toBeUndefined();
  });
});

describe('session id', () => {
  it('comes from the cookie first, else from the session header', () => {
    const r = (headers: Record<string, string>) => ({ headers, socket: {} }) as unknown as IncomingMessage;
    expect(sessionIdOf(r({ cookie: 'hapi_session=abc' }))).toBe('abc');
    expect(sessionIdOf(r({ 'x-hapi-session': 'def' }))).toBe('def');
    expect(sessionIdOf(r({ cookie: 'hapi_session=abc', 'x-hapi-session': 'def' }))).toBe('abc');
    expect(sessionIdOf(r({ 'x-hapi-session': '' }))).toBeUndefined();
    expect(sessionIdOf(r({}))).toBeUndefined();
  });
});
