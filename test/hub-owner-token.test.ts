// The owner token is not lost: a hub start that fails (a port in use) makes no token; the first
// start that listens shows it; every later start says where it is (`hapi hub token owner`); each
// start offers a fresh one-time sign-in link (code in the URL's fragment, single use), which
// signs Debian's chromium in on the real page.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { cleanupAllHomes, createTestHome, REPO_ROOT, waitFor, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';
import { validate } from './json-schema.js';

const CHROMIUM = '/usr/bin/chromium';
const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
let browser: Browser | undefined;

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});
afterAll(async () => {
  await browser?.close();
});

function linkOf(out: string): string {
  const m = /sign in on the web page \(one-time link, expires in 10 min\): (\S+)/.exec(out);
  if (!m) throw new Error(`no sign-in link in:\n${out}`);
  return m[1]!;
}

/** POST /auth/login {code} as the page does. */
async function redeem(httpUrl: string, code: string) {
  const res = await fetch(`${httpUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: httpUrl },
    body: JSON.stringify({ code }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, cookie: res.headers.get('set-cookie') };
}

describe('the owner token and sign-in links', () => {
  it('a start that fails makes no token; later starts say where it is; each offers a one-time link', async () => {
    const th = createTestHome();
    homes.push(th);
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const failed = await th.cli(['hub'], { env: { HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: String(port) } });
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toContain(`cannot listen for HTTP on 127.0.0.1:${port}`);
    } finally {
      busy.close();
    }
    expect(existsSync(join(th.home, 'hub-owner-token'))).toBe(false);
    expect((await th.cli(['hub', 'token', 'owner'])).code).toBe(4);

    // The first start that listens makes the token and shows it.
    let h = await startHubProcess(th);
    hubs.push(h);
    expect(h.stdout()).toContain('owner token (shown once; saved 0600 in');
    const shown = await th.cli(['hub', 'token', 'owner']);
    expect(shown.stdout.trim()).toBe(h.ownerToken);
    const ownerJson = JSON.parse((await th.cli(['hub', 'token', 'owner', '--json'])).stdout);
    expect(ownerJson).toEqual({ token: h.ownerToken, file: join(th.home, 'hub-owner-token') });
    expect(validate('hub-token-owner.schema.json', ownerJson)).toEqual([]);
    await waitFor(() => /sign in on the web page/.test(h.stdout()), 10_000, 'the start lines');
    const firstLink = linkOf(h.stdout());
    expect(firstLink).not.toContain(h.ownerToken);
    const url = new URL(firstLink);
    expect(url.search).toBe('');
    expect(url.hash).toMatch(/^#sign-in=[A-Za-z0-9_-]{32}$/);
    const code = url.hash.slice('#sign-in='.length);
    const ok = await redeem(h.httpUrl, code);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ namespace: 'default', owner: true, via: 'token' });
    expect(ok.cookie).toMatch(/HttpOnly/i);
    expect((await redeem(h.httpUrl, code)).status).toBe(401);
    expect((await redeem(h.httpUrl, 'x'.repeat(32))).status).toBe(401);
    expect(await h.stop('SIGTERM')).toBe(0);

    // A later start never shows the token, but says where it is and offers a fresh link.
    h = await startHubProcess(th, {}, h.ownerToken);
    hubs.push(h);
    await waitFor(() => /sign in on the web page/.test(h.stdout()), 10_000, 'the start lines');
    expect(h.stdout()).not.toContain(h.ownerToken);
    expect(h.stdout()).toContain(`owner token: in ${join(th.home, 'hub-owner-token')}; show it with \`hapi hub token owner\``);
    const secondLink = linkOf(h.stdout());
    expect(secondLink).not.toBe(firstLink);
    expect((await redeem(h.httpUrl, new URL(secondLink).hash.slice('#sign-in='.length))).status).toBe(200);

    // A fresh link from a running hub, for the CLI's own token: a read-only token's link signs in read-only.
    const created = await th.cli(['hub', 'token', 'create', '--namespace', 'team', '--read-only', '--json'], { env: { HAPI_API_URL: h.grpcUrl } });
    expect(created.code, created.stderr).toBe(0);
    const ro = JSON.parse(created.stdout).token as string;
    const made = await th.cli(['hub', 'token', 'sign-in-link', '--json'], { env: { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: ro } });
    expect(made.code, made.stderr).toBe(0);
    const out = JSON.parse(made.stdout);
    expect(validate('hub-sign-in-link.schema.json', out)).toEqual([]);
    expect(out.url.startsWith(`${h.httpUrl}/#sign-in=`)).toBe(true);
    expect(out.url).not.toContain(ro);
    expect(new Date(out.expiresAt).getTime() - Date.now()).toBeGreaterThan(9 * 60_000);
    const signed = await redeem(h.httpUrl, new URL(out.url).hash.slice('#sign-in='.length));
    expect(signed.body).toMatchObject({ namespace: 'team', owner: false, scope: 'TOKEN_SCOPE_READ_ONLY' });
    const bad = await th.cli(['hub', 'token', 'sign-in-link'], { env: { HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: 'hapi_nope' } });
    expect(bad.code).not.toBe(0);
  });

  it('the page signs in with the link and drops the code from its address', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing`).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'dist', 'web', 'index.html')), 'dist/web is missing: run npm run build').toBe(true);
    const th = createTestHome();
    homes.push(th);
    const h = await startHubProcess(th);
    hubs.push(h);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    const context = await browser.newContext();
    const page = await context.newPage();
    await waitFor(() => /sign in on the web page/.test(h.stdout()), 10_000, 'the start lines');
    const link = linkOf(h.stdout());
    await page.goto(link);
    await page.locator('.namespace').waitFor({ timeout: 15_000 });
    expect(await page.locator('.namespace').textContent()).toMatch(/^default/);
    expect(page.url()).not.toContain('sign-in=');
    // Used up: the same link in a fresh browser profile shows the sign-in form with why.
    const other = await browser.newContext();
    const again = await other.newPage();
    await again.goto(link);
    await again.locator('.notice').waitFor({ timeout: 15_000 });
    expect(await again.locator('.notice').textContent()).toMatch(/^Sign-in link: this sign-in link is invalid, used already or expired/);
    await context.close();
    await other.close();
  });
});
