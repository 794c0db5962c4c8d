// The web page end to end: Debian's chromium (driven by playwright-core) against a real hub
// process (`hapi hub`), with real runners (`hapi runner start`) running the fixture agent.
// Nothing is mocked; every wait is for something the page or a process does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { WebSocket as NodeWebSocket } from 'ws';
import { signInitData } from '../src/hub/web/telegram.js';
import { FIXTURE_AGENT, REPO_ROOT, cleanupAllHomes, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
const BOT_TOKEN = '7000001:AAH_web-e2e-test-bot-token-not-real';
const TG_DEFAULT_USER = 777001;
const TG_TEAMB_USER = 777002;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const XSS = '<img src=x onerror=alert(1)>';
const TUI_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'tui-agent.mjs');

interface Hub {
  httpUrl: string;
  grpcUrl: string;
  ownerToken: string;
}

interface Machine {
  th: TestHome;
  id: string;
  runnerPid: number;
}

/** What a page did that it never should: script errors, dialogs, CSP violations. */
interface Problems {
  errors: string[];
  dialogs: string[];
}

async function startHub(th: TestHome, env: NodeJS.ProcessEnv): Promise<Hub> {
  const proc = th.spawnCli(['hub'], { env: { HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', ...env } });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`hub exited (${proc.exitCode}):\n${out}\n${err}`);
    return /hub HTTP listening on/.test(out) && /owner token[^\n]*:\n\s+\S+/.test(out);
  }, 20_000, 'the hub to listen');
  return {
    httpUrl: /hub HTTP listening on (\S+)/.exec(out)![1]!,
    grpcUrl: /hub gRPC listening on (\S+)/.exec(out)![1]!,
    ownerToken: /owner token[^\n]*:\n\s+(\S+)/.exec(out)![1]!,
  };
}

/** A machine: its own HAPI_HOME and runner, linked to the hub with `token`, with the fixture agent configured. */
async function startMachine(hub: Hub, token: string): Promise<Machine> {
  const th = createTestHome({ HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: token });
  writeFileSync(join(th.home, 'settings.json'), JSON.stringify({ agents: { fixture: { command: FIXTURE_AGENT }, tui: { command: process.execPath, args: [TUI_AGENT] } } }));
  const started = await th.cli(['runner', 'start']);
  expect(started.code, started.stderr).toBe(0);
  const id = await waitFor(() => {
    try {
      return readFileSync(join(th.home, 'machine-id'), 'utf8').trim();
    } catch {
      return '';
    }
  }, 10_000, 'the runner to create its machine id');
  return { th, id, runnerPid: th.state()!.pid };
}

async function api(hub: Hub, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(hub.httpUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('web page in a real browser against the real hub', () => {
  let hubHome: TestHome;
  let hub: Hub;
  let teambToken: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const machines: Machine[] = [];
  let problems: Problems = { errors: [], dialogs: [] };
  // Stands in for Telegram Web: another site (localhost, while the hub is 127.0.0.1) whose page
  // shows the hub's page in an iframe, as Telegram Web does with Mini Apps.
  let framer: Server;
  let framerUrl: string;
  let framedSrc = '';

  beforeAll(async () => {
    framer = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>chat</title><iframe src="${framedSrc.replace(/"/g, '&quot;')}" style="width:390px;height:800px;border:0"></iframe>`);
    });
    await new Promise<void>((r) => framer.listen(0, '127.0.0.1', r));
    framerUrl = `http://localhost:${(framer.address() as AddressInfo).port}`;
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run .ci/setup-browser`).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'dist', 'web', 'index.html')), 'dist/web is missing: run npm run build').toBe(true);
    mkdirSync(ARTIFACTS, { recursive: true });
    hubHome = createTestHome();
    hub = await startHub(hubHome, {
      HAPI_TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      // Sign-in only: nothing here may reach Telegram.
      HAPI_TELEGRAM_NOTIFY: 'false',
      HAPI_TELEGRAM_USERS: `${TG_DEFAULT_USER}:default,${TG_TEAMB_USER}:teamb`,
      HAPI_WEB_FRAME_ANCESTORS: framerUrl,
    });
    const created = await hubHome.cli(['hub', 'token', 'create', '--namespace', 'teamb', '--json'], {
      env: { HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: hub.ownerToken },
    });
    expect(created.code, created.stderr).toBe(0);
    teambToken = (JSON.parse(created.stdout) as { token: string }).token;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // playwright-core gives every launch a new, empty --user-data-dir of its own.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
    for (const m of machines.splice(0)) await m.th.cleanup();
    expect(problems.errors, 'page errors or CSP violations').toEqual([]);
    expect(problems.dialogs, 'dialogs opened by the page').toEqual([]);
  });

  afterAll(async () => {
    framer?.closeAllConnections();
    framer?.close();
    await browser?.close();
    await cleanupAllHomes();
  });

  /** A new browser profile with a phone-sized viewport; records anything the page should never do. */
  async function openPage(viewport = { width: 390, height: 844 }): Promise<Page> {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 2, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    problems = { errors: [], dialogs: [] };
    page.on('pageerror', (e) => problems.errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.errors.push(`console: ${m.text()}`);
    });
    page.on('dialog', (d) => {
      problems.dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    return page;
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(hub.httpUrl);
    await page.getByLabel('Hub token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.live-live').waitFor();
  }

  async function machineUp(token = hub.ownerToken): Promise<Machine> {
    const m = await startMachine(hub, token);
    machines.push(m);
    return m;
  }

  /** Unfolds the start form and fills it in. */
  async function fillStartForm(page: Page, m: Machine, directory: string): Promise<void> {
    const form = page.locator('details.start-session');
    if ((await form.getAttribute('open')) === null) await form.locator('summary').click();
    await page.getByLabel('Machine', { exact: true }).selectOption(m.id);
    await page.getByLabel('Directory', { exact: true }).fill(directory);
    await page.getByLabel('Agent', { exact: true }).selectOption('fixture');
  }

  const card = (page: Page, m: Machine) => page.locator(`[data-machine-id="${m.id}"]`);
  const sessionRow = (page: Page, id: string) => page.locator(`[data-session-id="${id}"]`);

  // Browser-side code is passed as strings: this file is type-checked for Node, without the DOM.
  /** Marks the document; a reload would lose the mark. */
  const markDocument = (page: Page) => page.evaluate('window.hapiMark = 42');
  const documentMarked = (page: Page) => page.evaluate('window.hapiMark === 42');
  const scrollToTop = (page: Page) => page.evaluate('window.scrollTo(0, 0)');

  it('refuses a wrong token, signs in with a namespace token and shows only that namespace', async () => {
    const ownMachine = await machineUp(teambToken);
    const otherMachine = await machineUp(hub.ownerToken);
    const page = await openPage();
    const response = await page.goto(hub.httpUrl);
    expect(response!.headers()['content-security-policy']).toContain("script-src 'self'");

    await page.getByLabel('Hub token').fill('hapi_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('invalid token');
    expect(await page.locator('.topbar').count()).toBe(0);

    await page.getByLabel('Hub token').fill(teambToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.live-live').waitFor();
    expect(await page.locator('.namespace').textContent()).toBe('teamb');
    await card(page, ownMachine).locator('.pill.online').waitFor();
    expect(await page.locator('[data-machine-id]').count()).toBe(1);
    expect(await card(page, otherMachine).count()).toBe(0);

    // The sign-in survives a reload (cookie session), and signing out ends it.
    await page.reload();
    await page.locator('.live-live').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Hub token').waitFor();
    await page.reload();
    await page.getByLabel('Hub token').waitFor();
  });

  it('returns to sign-in, without a reload, when the token of the sign-in is revoked', async () => {
    const cliEnv = { env: { HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: hub.ownerToken } };
    const created = await hubHome.cli(['hub', 'token', 'create', '--namespace', 'teamc', '--json'], cliEnv);
    expect(created.code, created.stderr).toBe(0);
    const { token, tokenId } = JSON.parse(created.stdout) as { token: string; tokenId: string };
    const page = await openPage();
    await signIn(page, token);
    expect(await page.locator('.namespace').textContent()).toBe('teamc');
    await markDocument(page);

    const revoked = await hubHome.cli(['hub', 'token', 'revoke', tokenId], cliEnv);
    expect(revoked.code, revoked.stderr).toBe(0);
    await expect(page.locator('.notice').textContent()).resolves.toBe('Your sign-in has ended; sign in again.');
    await page.getByLabel('Hub token').waitFor();
    expect(await documentMarked(page)).toBe(true);
  });

  it('a read-only token sees machines and sessions live, without the start form or any stop button', async () => {
    const m = await machineUp();
    const created = await hubHome.cli(['hub', 'token', 'create', '--namespace', 'default', '--read-only', '--json'], {
      env: { HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: hub.ownerToken },
    });
    expect(created.code, created.stderr).toBe(0);
    const viewer = (JSON.parse(created.stdout) as { token: string }).token;
    const dir = join(m.th.home, 'watched');
    mkdirSync(dir);
    const started = await api(hub, hub.ownerToken, 'POST', `/api/v1/machines/${m.id}/sessions`, { directory: dir, agent: 'fixture' });
    expect(started.status, JSON.stringify(started.body)).toBe(200);

    const page = await openPage();
    await signIn(page, viewer);
    expect(await page.locator('.topbar .pill.read-only').textContent()).toBe('read-only');
    const row = sessionRow(page, started.body.session.id);
    await row.locator('.pill.state-running').waitFor();
    expect(await card(page, m).locator('.pill.online').count()).toBe(1);
    expect(await page.locator('details.start-session').count()).toBe(0);
    expect(await row.getByRole('button').count()).toBe(0);
    expect(await card(page, m).getByRole('button', { name: 'Stop runner' }).count()).toBe(0);

    // Live: a session started elsewhere appears, and its end too.
    const other = await api(hub, hub.ownerToken, 'POST', `/api/v1/machines/${m.id}/sessions`, { directory: dir, agent: 'fixture' });
    await sessionRow(page, other.body.session.id).locator('.pill.state-running').waitFor();
    await api(hub, hub.ownerToken, 'POST', `/api/v1/machines/${m.id}/sessions/${other.body.session.id}/stop`);
    await sessionRow(page, other.body.session.id).and(page.locator('[data-state="ended"]')).waitFor();
    // The page's own sign-in cannot stop anything either, even by hand.
    const refused = await page.evaluate(`(async () => {
      const who = await (await fetch('/auth/session')).json();
      const res = await fetch('/api/v1/machines/${m.id}/sessions/${started.body.session.id}/stop', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': who.csrfToken }, body: '{}',
      });
      return [who.scope, res.status];
    })()`);
    expect(refused).toEqual(['TOKEN_SCOPE_READ_ONLY', 403]);
    expect(isAlive(started.body.session.pid)).toBe(true);
  });

  it('shows an online machine with its facts, starts a session that appears live, and stops it', async () => {
    const m = await machineUp();
    const page = await openPage();
    await signIn(page, hub.ownerToken);
    await markDocument(page);

    const c = card(page, m);
    await c.locator('.pill.online').waitFor();
    expect(await c.getAttribute('data-online')).toBe('true');
    const facts = await c.locator('.facts').innerText();
    expect(facts).toContain('linux / x64');
    expect(facts).toMatch(/CLI\s+0\.1\.0/);
    expect(facts).toMatch(/Online since\s+\d+ s ago/);
    expect(await c.locator('.runner-state').textContent()).toBe(`running, pid ${m.runnerPid}`);

    const dir = join(m.th.home, 'project');
    mkdirSync(dir);
    await fillStartForm(page, m, dir);
    await page.getByRole('button', { name: 'Start session' }).click();
    const notice = await page.locator('.start-session [role="status"]').textContent();
    const shortId = /Started session (\S+)/.exec(notice ?? '')?.[1];
    expect(shortId, notice ?? '').toBeTruthy();

    const row = c.locator('[data-session-id][data-state="running"]', { hasText: dir });
    await row.waitFor();
    const sessionId = (await row.getAttribute('data-session-id'))!;
    expect(sessionId.startsWith(shortId!)).toBe(true);
    const head = await row.locator('.session-head').innerText();
    expect(head).toContain('fixture');
    expect(head).toContain('by runner');
    expect(head).toMatch(/\d+ s/);
    expect(await row.locator('.session-dir').textContent()).toBe(dir);

    // A session started elsewhere (here: a tool with the token) appears too, without a reload.
    const other = await api(hub, hub.ownerToken, 'POST', `/api/v1/machines/${m.id}/sessions`, { directory: dir, agent: 'fixture' });
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    await sessionRow(page, other.body.session.id).locator('.pill.state-running').waitFor();

    await sessionRow(page, sessionId).getByRole('button', { name: `Stop session ${shortId}` }).click();
    await sessionRow(page, sessionId).and(page.locator('[data-state="ended"]')).waitFor();
    expect(await sessionRow(page, sessionId).getByRole('button').count()).toBe(0);
    expect(await documentMarked(page)).toBe(true);

    await scrollToTop(page);
    await page.screenshot({ path: join(ARTIFACTS, 'web-main-phone.png'), fullPage: true });
    const hasSideScroll = await page.evaluate('document.documentElement.scrollWidth > document.documentElement.clientWidth');
    expect(hasSideScroll, 'the phone-sized page scrolls sideways').toBe(false);
  });

  it('asks before creating a missing directory, then starts there; shows an XSS directory name as text', async () => {
    const m = await machineUp();
    const page = await openPage({ width: 1280, height: 900 });
    await signIn(page, hub.ownerToken);
    await card(page, m).locator('.pill.online').waitFor();

    const dir = join(m.th.home, 'new', XSS);
    await fillStartForm(page, m, dir);
    await page.getByRole('button', { name: 'Start session' }).click();
    const ask = page.getByRole('alertdialog', { name: 'Create the directory?' });
    await ask.waitFor();
    expect(await ask.locator('code.path').textContent()).toBe(dir);
    expect(existsSync(dir)).toBe(false);

    await ask.getByRole('button', { name: 'Create directory and start' }).click();
    const row = card(page, m).locator('[data-session-id][data-state="running"]');
    await row.waitFor();
    expect(existsSync(dir)).toBe(true);
    expect(await row.locator('.session-dir').textContent()).toBe(dir);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate("document.body.innerHTML.includes('<img')")).toBe(false);
    await scrollToTop(page);
    await page.screenshot({ path: join(ARTIFACTS, 'web-main-desktop.png'), fullPage: true });
  });

  it("shows the runner's own error message when a spawn fails", async () => {
    const m = await machineUp();
    const page = await openPage();
    await signIn(page, hub.ownerToken);
    await card(page, m).locator('.pill.online').waitFor();

    const plain = join(m.th.home, 'not-a-repo');
    mkdirSync(plain);
    const direct = await api(hub, hub.ownerToken, 'POST', `/api/v1/machines/${m.id}/sessions`, {
      directory: plain,
      agent: 'fixture',
      worktree: {},
    });
    expect(direct.status).toBeGreaterThanOrEqual(400);
    expect(direct.body.error).toBeTruthy();

    await fillStartForm(page, m, plain);
    await page.getByLabel('In a new git worktree').check();
    await page.getByRole('button', { name: 'Start session' }).click();
    const alert = page.locator('.start-session [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toBe(direct.body.error);
    // The runner publishes its last spawn error to the hub; the machine card shows it live.
    const spawnError = card(page, m).locator('.spawn-error');
    await spawnError.waitFor();
    expect(await spawnError.textContent()).toBe(`Last spawn error: ${direct.body.error}`);
  });

  it('stops a runner only after confirmation, and shows a killed runner offline without a reload', async () => {
    const stopped = await machineUp();
    const killed = await machineUp();
    const page = await openPage();
    await signIn(page, hub.ownerToken);
    await markDocument(page);

    const sc = card(page, stopped);
    await sc.locator('.pill.online').waitFor();
    await sc.getByRole('button', { name: 'Stop runner' }).click();
    const confirm = sc.getByRole('alertdialog', { name: 'Confirm stopping the runner' });
    await confirm.waitFor();
    expect(isAlive(stopped.runnerPid)).toBe(true);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect(await confirm.count()).toBe(0);
    expect(isAlive(stopped.runnerPid)).toBe(true);

    await sc.getByRole('button', { name: 'Stop runner' }).click();
    await confirm.getByRole('button', { name: 'Yes, stop the runner' }).click();
    await sc.locator('.pill.offline').waitFor();
    await waitFor(() => !isAlive(stopped.runnerPid), 15_000, 'the stopped runner to exit');
    expect(await sc.locator('.facts').innerText()).toMatch(/Offline since\s+\d+ s ago/);

    const kc = card(page, killed);
    await kc.locator('.pill.online').waitFor();
    process.kill(killed.runnerPid, 'SIGKILL');
    await kc.locator('.pill.offline').waitFor();
    expect(await kc.getAttribute('data-online')).toBe('false');
    expect(await documentMarked(page)).toBe(true);
  });

  it('signs in inside Telegram with initData, and refuses tampered initData', async () => {
    const teamb = await machineUp(teambToken);
    const page = await openPage();
    // What Telegram's webview provides to the page; records the events the page posts.
    await page.addInitScript('window.tgEvents = []; window.TelegramWebviewProxy = { postEvent: (type) => window.tgEvents.push(type) };');
    const launchUrl = (initData: string) =>
      `${hub.httpUrl}/#${new URLSearchParams({
        tgWebAppData: initData,
        tgWebAppVersion: '8.0',
        tgWebAppPlatform: 'android',
        tgWebAppThemeParams: JSON.stringify({ bg_color: '#17212b', text_color: '#f5f5f5' }),
      })}`;
    const authDate = String(Math.floor(Date.now() / 1000));
    const user = JSON.stringify({ id: TG_TEAMB_USER, first_name: 'Tess', username: 'tess' });
    const initData = signInitData({ query_id: 'AAE-e2e', user, auth_date: authDate }, BOT_TOKEN);

    const tampered = new URLSearchParams(initData);
    tampered.set('user', JSON.stringify({ id: TG_DEFAULT_USER, first_name: 'Tess', username: 'tess' }));
    await page.goto(launchUrl(tampered.toString()));
    await expect(page.locator('.notice').textContent()).resolves.toBe('Telegram sign-in failed: Telegram sign-in data has a bad signature');
    expect(await page.locator('.topbar').count()).toBe(0);

    // A fresh load, as when Telegram opens the app (a hash-only change would not reload).
    await page.goto('about:blank');
    await page.goto(launchUrl(initData));
    await page.locator('.live-live').waitFor();
    expect(await page.locator('.namespace').textContent()).toBe('teamb');
    await card(page, teamb).locator('.pill.online').waitFor();
    expect(await page.evaluate('location.hash')).toBe('');
    expect(await page.evaluate('window.tgEvents')).toEqual(['web_app_ready', 'web_app_expand']);
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(23, 33, 43)');
  });

  it('works inside another site\'s iframe, as in Telegram Web, where no cookie reaches the hub', async () => {
    const m = await machineUp(teambToken);
    const page = await openPage();
    const authDate = String(Math.floor(Date.now() / 1000));
    const user = JSON.stringify({ id: TG_TEAMB_USER, first_name: 'Tess', username: 'tess' });
    const initData = signInitData({ query_id: 'AAE-iframe', user, auth_date: authDate }, BOT_TOKEN);
    framedSrc = `${hub.httpUrl}/#${new URLSearchParams({ tgWebAppData: initData, tgWebAppVersion: '8.0', tgWebAppPlatform: 'weba' })}`;
    await page.goto(framerUrl);
    const frame = page.frameLocator('iframe');

    // Signed in, and live: the event stream carries the session header instead of a cookie.
    await frame.locator('.live-live').waitFor();
    expect(await frame.locator('.namespace').textContent()).toBe('teamb');
    await frame.locator(`[data-machine-id="${m.id}"] .pill.online`).waitFor();
    const hubCookies = (await page.context().cookies(hub.httpUrl)).filter((c) => c.name.includes('hapi_session'));
    expect(hubCookies).toEqual([]);

    // A state change from inside the iframe (session header + CSRF token), seen live.
    const dir = join(m.th.home, 'framed');
    mkdirSync(dir);
    const form = frame.locator('details.start-session');
    if ((await form.getAttribute('open')) === null) await form.locator('summary').click();
    await frame.getByLabel('Machine', { exact: true }).selectOption(m.id);
    await frame.getByLabel('Directory', { exact: true }).fill(dir);
    await frame.getByLabel('Agent', { exact: true }).selectOption('fixture');
    await frame.getByRole('button', { name: 'Start session' }).click();
    const row = frame.locator('[data-session-id][data-state="running"]', { hasText: dir });
    await row.waitFor();
    const sessionId = (await row.getAttribute('data-session-id'))!;
    // Ended elsewhere: the change arrives over the header-authenticated stream.
    const stopped = await api(hub, teambToken, 'POST', `/api/v1/machines/${m.id}/sessions/${sessionId}/stop`, {});
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    await frame.locator(`[data-session-id="${sessionId}"][data-state="ended"]`).waitFor();

    // The terminal in the iframe: no cookie goes with its WebSocket either, so each connection
    // gets a one-time ticket first (POST /api/v1/attach-tickets with the session header and CSRF
    // token) and names it in the URL.
    const tickets: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/attach-tickets') tickets.push(r.headers()['x-hapi-session'] ? 'with-session' : 'without');
    });
    const sockets: { url: string; closed: () => boolean; sent: string[] }[] = [];
    page.on('websocket', (ws) => {
      const entry = { url: ws.url(), closed: () => ws.isClosed(), sent: [] as string[] };
      ws.on('framesent', (f) => entry.sent.push(typeof f.payload === 'string' ? f.payload : `<${f.payload.length} bytes>`));
      sockets.push(entry);
    });
    const tui = await api(hub, teambToken, 'POST', `/api/v1/machines/${m.id}/sessions`, { directory: dir, agent: 'tui' });
    expect(tui.status, JSON.stringify(tui.body)).toBe(200);
    const tuiId = tui.body.session.id as string;
    await frame.locator(`[data-session-id="${tuiId}"] a.session-open`).click();
    await frame.locator('.conn[data-state="live"]').waitFor();
    const frameScreen = () => frame.locator('.term-host .xterm-rows').innerText();
    const framed = (pattern: RegExp, what: string) => waitFor(async () => pattern.test(await frameScreen()), 15_000, what);
    await framed(/fixture tui/, 'the terminal in the iframe');
    expect(tickets).toEqual(['with-session']);
    const attach = sockets.filter((w) => w.url.includes('/attach'));
    expect(attach).toHaveLength(1);
    expect(attach[0]!.url).toMatch(new RegExp(`/api/v1/machines/${m.id}/sessions/${tuiId}/attach\\?ticket=[^&]+$`));
    await frame.getByLabel('Prompt', { exact: true }).fill('typed in a frame');
    await frame.getByRole('button', { name: 'Send' }).click();
    await framed(/pasted "typed in a frame"\s+got "\\r"/, 'the composer through a ticket-authenticated socket');
    // A ticket is single use: re-attaching (read-only and back) gets a fresh one each time.
    await frame.getByRole('checkbox', { name: 'Read-only' }).check();
    await waitFor(() => tickets.length === 2 && sockets.filter((w) => w.url.includes('/attach')).length === 2, 10_000, 'a read-only attach with a new ticket');
    await frame.getByRole('checkbox', { name: 'Read-only' }).uncheck();
    await waitFor(() => sockets.filter((w) => w.url.includes('/attach')).length === 3, 10_000, 'an interactive attach with a new ticket');
    await frame.locator('.conn[data-state="live"]').waitFor();
    const urls = sockets.filter((w) => w.url.includes('/attach')).map((w) => w.url);
    expect(new Set(urls).size).toBe(3);
    expect(tickets).toEqual(['with-session', 'with-session', 'with-session']);
    await frame.getByRole('button', { name: 'Ctrl-C' }).click();
    await framed(/got "\\u0003"/, 'Ctrl-C through the third ticket');
    // A used ticket is refused when replayed, even from the page's own origin.
    const replay = await new Promise<number>((resolve) => {
      const ws = new NodeWebSocket(urls[0]!, { origin: hub.httpUrl });
      ws.on('close', (code) => resolve(code));
      ws.on('error', () => undefined);
    });
    expect(replay).toBe(4401);

    expect(problems.errors, 'page errors or CSP violations in the iframe').toEqual([]);

    // The same page on a site that is not allowed to frame it is refused by the browser.
    const blocked = await openPage();
    const refused = new Promise<void>((resolve) => blocked.on('console', (msg) => /frame-ancestors/.test(msg.text()) && resolve()));
    framedSrc = `${hub.httpUrl}/`;
    // Same framer, other origin (127.0.0.1 instead of localhost): not in HAPI_WEB_FRAME_ANCESTORS.
    await blocked.goto(framerUrl.replace('localhost', '127.0.0.1'));
    await refused;
    problems.errors = problems.errors.filter((e) => !/frame-ancestors/.test(e));
  });
});
