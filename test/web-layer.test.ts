// The web layer over real HTTP: sign-in, the session cookie, CSRF and Origin rules, security
// headers, Telegram sign-in. Behind it sits a REST handler that only reports the caller the
// web layer handed it (the third argument is the contract between the two), so these tests
// check the web layer alone; test/web-e2e.test.ts runs the same page against the real hub.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { UnauthenticatedError } from '../src/shared/errors.js';
import { createWebLayer, type WebCaller, type WebLayer } from '../src/hub/web/web-layer.js';
import { signInitData } from '../src/hub/web/telegram.js';
import { bearerToken } from '../src/shared/http/bearer.js';

const BOT_TOKEN = '5550001:AAF_web-layer-test-bot-token';

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

describe('web layer', () => {
  let server: Server;
  let web: WebLayer;
  let base: string;
  let dir: string;
  // The hub's token store, as far as the web layer can see it: token -> caller.
  let tokens: Map<string, WebCaller>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hapi-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>hapi</title><script type="module" src="/assets/app-X.js"></script>');
    writeFileSync(join(dir, 'assets', 'app-X.js'), 'console.log(1)');
    tokens = new Map([
      ['owner-token', { namespace: 'default', owner: true, tokenId: 't1', scope: 'full' }],
      ['team-token', { namespace: 'teamb', owner: false, tokenId: 't2', scope: 'full' }],
      ['viewer-token', { namespace: 'teamb', owner: false, tokenId: 't3', scope: 'read-only' }],
    ]);
    web = createWebLayer({
      webRoot: dir,
      verifyToken: (token) => {
        const caller = tokens.get(token);
        if (!caller) throw new UnauthenticatedError();
        return caller;
      },
      verifyTokenId: (tokenId) => {
        const caller = [...tokens.values()].find((c) => c.tokenId === tokenId);
        if (!caller) throw new UnauthenticatedError();
        return caller;
      },
      telegram: { botToken: BOT_TOKEN, users: new Map([[1001, 'teamb']]), maxAgeMs: 3600_000, apiUrl: 'http://127.0.0.1:9', notify: false },
    });
    server = createServer(
      web.handler(async (req, res, given?: WebCaller) => {
        // Like the hub's REST view: the caller of the cookie session, else the bearer token's.
        const caller = given ?? tokens.get(bearerToken(req.headers.authorization) ?? '');
        if (!caller) {
          res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"success":false,"error":"missing or invalid token"}');
          return;
        }
        if (req.url === '/api/v1/events') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream' });
          res.write(`event: hello\ndata: ${JSON.stringify(caller)}\n\n`);
          return; // held open, like the hub's event stream
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ caller, method: req.method, url: req.url }));
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    web.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(base + path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
      redirect: 'manual',
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, body, text };
  }

  const origin = () => ({ origin: base });

  async function signIn(token = 'owner-token'): Promise<{ cookie: string; csrf: string }> {
    const res = await call('POST', '/auth/login', { headers: origin(), body: { token } });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    return { cookie: setCookie.split(';')[0]!, csrf: String(res.body.csrfToken) };
  }

  it('serves the page with a strict CSP and security headers on every response', async () => {
    for (const path of ['/', '/assets/app-X.js', '/nope', '/api/v1/machines', '/auth/session']) {
      const res = await call('GET', path);
      expect(res.headers.get('content-security-policy'), path).toMatch(/default-src 'none'; script-src 'self'/);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
    }
    const page = await call('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const asset = await call('GET', '/assets/app-X.js');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const again = await call('GET', '/assets/app-X.js', { headers: { 'if-none-match': asset.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await call('GET', '/nope')).status).toBe(404);
    expect((await call('GET', '/../../etc/passwd')).status).toBe(404);
    expect((await call('POST', '/', { headers: origin(), body: {} })).status).toBe(405);
  });

  it('refuses a wrong token, and signs in with a right one into an HttpOnly SameSite=Strict cookie', async () => {
    const wrong = await call('POST', '/auth/login', { headers: origin(), body: { token: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid token');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const ok = await call('POST', '/auth/login', { headers: origin(), body: { token: 'team-token' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ namespace: 'teamb', owner: false, scope: 'TOKEN_SCOPE_FULL', via: 'token' });
    const setCookie = ok.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^hapi_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(setCookie).not.toContain('team-token');
    expect(ok.headers.get('cache-control')).toBe('no-store');

    const cookie = setCookie.split(';')[0]!;
    const who = await call('GET', '/auth/session', { headers: { cookie } });
    expect(who.body).toMatchObject({ namespace: 'teamb', owner: false, csrfToken: ok.body.csrfToken });
    const api = await call('GET', '/api/v1/machines', { headers: { cookie } });
    expect(api.body).toEqual({ caller: { namespace: 'teamb', owner: false, tokenId: 't2', scope: 'full' }, method: 'GET', url: '/api/v1/machines' });
  });

  it("carries a read-only token's scope into its sign-in: told to the page, handed to the REST view with every request", async () => {
    const ok = await call('POST', '/auth/login', { headers: origin(), body: { token: 'viewer-token' } });
    expect(ok.body).toMatchObject({ namespace: 'teamb', owner: false, scope: 'TOKEN_SCOPE_READ_ONLY', via: 'token' });
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    expect((await call('GET', '/auth/session', { headers: { cookie } })).body).toMatchObject({ scope: 'TOKEN_SCOPE_READ_ONLY' });
    const post = await call('POST', '/api/v1/machines/m1/stop-runner', { headers: { cookie, ...origin(), 'x-csrf-token': String(ok.body.csrfToken) } });
    expect(post.body).toMatchObject({ caller: { tokenId: 't3', scope: 'read-only' }, method: 'POST' });
  });

  it('refuses a sign-in from another origin, without an Origin, or not as JSON', async () => {
    expect((await call('POST', '/auth/login', { body: { token: 'owner-token' } })).status).toBe(403);
    const foreign = await call('POST', '/auth/login', { headers: { origin: 'http://evil.example' }, body: { token: 'owner-token' } });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('set-cookie')).toBeNull();
    const form = await call('POST', '/auth/login', {
      headers: { ...origin(), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=owner-token',
    });
    expect(form.status).toBe(415);
    expect((await call('POST', '/auth/login', { headers: origin(), body: '{"token":' })).status).toBe(400);
    const tooLarge = await call('POST', '/auth/login', { headers: origin(), body: { token: 'x'.repeat(20_000) } });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toMatchObject({ success: false, code: 'ResourceExhausted', error: 'request body larger than 16384 bytes' });
    // A known route with another method is 405 with Allow, an unknown one 404, in the one error body.
    const wrongMethod = await call('GET', '/auth/login');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(wrongMethod.body).toMatchObject({ success: false, code: 'InvalidArgument', error: expect.stringMatching(/not allowed/) });
    expect(await call('POST', '/auth/nope', { headers: origin(), body: {} })).toMatchObject({ status: 404, body: { success: false, code: 'NotFound' } });
  });

  it('lets a cookie session change state only with its CSRF token and a same-origin Origin', async () => {
    const { cookie, csrf } = await signIn();
    const path = '/api/v1/machines/m1/stop-runner';
    const noToken = await call('POST', path, { headers: { cookie, ...origin() }, body: {} });
    expect(noToken.status).toBe(403);
    expect(noToken.body.error).toBe('missing CSRF token');
    const badToken = await call('POST', path, { headers: { cookie, ...origin(), 'x-csrf-token': `${csrf}x` }, body: {} });
    expect(badToken.status).toBe(403);
    expect(badToken.body.error).toBe('bad CSRF token');
    const other = await signIn('team-token');
    const othersToken = await call('POST', path, { headers: { cookie, ...origin(), 'x-csrf-token': other.csrf }, body: {} });
    expect(othersToken.status).toBe(403);
    const foreign = await call('POST', path, { headers: { cookie, origin: 'http://evil.example', 'x-csrf-token': csrf }, body: {} });
    expect(foreign.status).toBe(403);
    const noOrigin = await call('POST', path, { headers: { cookie, 'x-csrf-token': csrf }, body: {} });
    expect(noOrigin.status).toBe(403);

    const ok = await call('POST', path, { headers: { cookie, ...origin(), 'x-csrf-token': csrf }, body: {} });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ caller: { namespace: 'default', owner: true }, method: 'POST' });
  });

  it('leaves bearer-token requests to the REST view, without cookie rules', async () => {
    const ok = await call('POST', '/api/v1/machines/m1/stop-runner', { headers: { authorization: 'Bearer team-token' }, body: {} });
    expect(ok.body).toMatchObject({ caller: { namespace: 'teamb', owner: false } });
    const bad = await call('GET', '/api/v1/machines', { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    const none = await call('GET', '/api/v1/machines');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ success: false, code: 'Unauthenticated' });
  });

  it('ends a session at sign-out (closing its event stream) and when its token is revoked', async () => {
    const { cookie, csrf } = await signIn();
    const stream = await openStream(`${base}/api/v1/events`, cookie);
    expect(stream.firstChunk).toContain('"namespace":"default"');

    const refusedLogout = await call('POST', '/auth/logout', { headers: { cookie, ...origin() }, body: {} });
    expect(refusedLogout.status).toBe(403);
    const logout = await call('POST', '/auth/logout', { headers: { cookie, ...origin(), 'x-csrf-token': csrf }, body: {} });
    expect(logout.status).toBe(200);
    expect(logout.headers.get('set-cookie')).toMatch(/^hapi_session=; .*Max-Age=0/);
    await stream.closed;
    expect((await call('GET', '/api/v1/machines', { headers: { cookie } })).status).toBe(401);
    expect((await call('GET', '/auth/session', { headers: { cookie } })).status).toBe(401);

    const second = await signIn('team-token');
    expect((await call('GET', '/api/v1/machines', { headers: { cookie: second.cookie } })).status).toBe(200);
    tokens.delete('team-token');
    expect((await call('GET', '/api/v1/machines', { headers: { cookie: second.cookie } })).status).toBe(401);
    tokens.set('team-token', { namespace: 'teamb', owner: false, tokenId: 't2', scope: 'full' });
    // The session ended; the token being valid again does not bring it back.
    expect((await call('GET', '/api/v1/machines', { headers: { cookie: second.cookie } })).status).toBe(401);
  });

  it('signs in with Telegram initData for a mapped user, and refuses tampered, stale or unmapped data', async () => {
    const now = Math.floor(Date.now() / 1000);
    const initData = signInitData({ auth_date: String(now), user: JSON.stringify({ id: 1001, first_name: 'T' }), query_id: 'q' }, BOT_TOKEN);
    const ok = await call('POST', '/auth/telegram', { headers: origin(), body: { initData } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ namespace: 'teamb', owner: false, scope: 'TOKEN_SCOPE_FULL', via: 'telegram' });
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    expect((await call('GET', '/api/v1/sessions', { headers: { cookie } })).body).toEqual({
      caller: { namespace: 'teamb', owner: false, tokenId: 'telegram:1001', scope: 'full' },
      method: 'GET',
      url: '/api/v1/sessions',
    });

    const tampered = initData.replace('1001', '1002');
    const refused = await call('POST', '/auth/telegram', { headers: origin(), body: { initData: tampered } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('set-cookie')).toBeNull();

    const stale = signInitData({ auth_date: String(now - 7200), user: JSON.stringify({ id: 1001 }) }, BOT_TOKEN);
    expect((await call('POST', '/auth/telegram', { headers: origin(), body: { initData: stale } })).body.error).toMatch(/expired/);

    const stranger = signInitData({ auth_date: String(now), user: JSON.stringify({ id: 2002 }) }, BOT_TOKEN);
    const unmapped = await call('POST', '/auth/telegram', { headers: origin(), body: { initData: stranger } });
    expect(unmapped.status).toBe(403);
    expect(unmapped.body.error).toBe('Telegram user 2002 is not allowed on this hub');

    const otherBot = signInitData({ auth_date: String(now), user: JSON.stringify({ id: 1001 }) }, '5550002:AAF_some-other-bot-token');
    expect((await call('POST', '/auth/telegram', { headers: origin(), body: { initData: otherBot } })).status).toBe(401);
  });
});

/** Opens a long-lived GET and resolves once the first chunk arrived; `closed` settles when the server ends it. */
function openStream(url: string, cookie: string): Promise<{ firstChunk: string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { cookie } }, (res) => {
      const closed = new Promise<void>((r) => res.on('close', () => r()));
      res.once('data', (chunk: Buffer) => resolve({ firstChunk: chunk.toString(), closed }));
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.end();
  });
}
