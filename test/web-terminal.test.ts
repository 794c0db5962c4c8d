// The page's terminal in Debian's chromium (playwright-core) at phone size, against a real hub,
// a real runner and runner-spawned sessions of the fixture TUI agent. Most tests open the page
// through test/web-attach-bridge.ts (the real hub for everything, its own attach endpoint speaking
// the agreed protocol), which records each hello and can drop every viewer at once; the last one
// goes through the hub's own attach endpoint. `npm run build` first.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { sessionSocketPathFor } from '../src/shared/paths.js';
import { REPO_ROOT, cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';
import { startAttachBridge, type AttachBridge } from './web-attach-bridge.js';

const CHROMIUM = '/usr/bin/chromium';
const TUI_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'tui-agent.mjs');
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

interface Hub {
  httpUrl: string;
  grpcUrl: string;
  ownerToken: string;
}

async function startHub(th: TestHome): Promise<Hub> {
  const proc = th.spawnCli(['hub'], { env: { HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0' } });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`hub exited (${proc.exitCode}):\n${out}`);
    return /hub HTTP listening on/.test(out) && /owner token[^\n]*:\n\s+\S+/.test(out);
  }, 20_000, 'the hub to listen');
  return {
    httpUrl: /hub HTTP listening on (\S+)/.exec(out)![1]!,
    grpcUrl: /hub gRPC listening on (\S+)/.exec(out)![1]!,
    ownerToken: /owner token[^\n]*:\n\s+(\S+)/.exec(out)![1]!,
  };
}

describe('the page terminal in a real browser', () => {
  let hubHome: TestHome;
  let machine: TestHome;
  let machineId: string;
  let hub: Hub;
  let bridge: AttachBridge;
  let browser: Browser;
  let viewerToken: string;
  const contexts: BrowserContext[] = [];
  let problems: string[] = [];

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run .ci/setup-browser`).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'dist', 'web', 'index.html')), 'dist/web is missing: run npm run build').toBe(true);
    mkdirSync(ARTIFACTS, { recursive: true });
    hubHome = createTestHome();
    hub = await startHub(hubHome);
    const created = await hubHome.cli(['hub', 'token', 'create', '--namespace', 'default', '--read-only', '--json'], {
      env: { HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: hub.ownerToken },
    });
    expect(created.code, created.stderr).toBe(0);
    viewerToken = (JSON.parse(created.stdout) as { token: string }).token;
    machine = createTestHome({ HAPI_API_URL: hub.grpcUrl, CLI_API_TOKEN: hub.ownerToken });
    writeFileSync(join(machine.home, 'settings.json'), JSON.stringify({ agents: { tui: { command: process.execPath, args: [TUI_AGENT] } } }));
    const started = await machine.cli(['runner', 'start']);
    expect(started.code, started.stderr).toBe(0);
    machineId = await waitFor(() => {
      try {
        return readFileSync(join(machine.home, 'machine-id'), 'utf8').trim();
      } catch {
        return '';
      }
    }, 10_000, 'the machine id');
    bridge = await startAttachBridge({
      hubUrl: hub.httpUrl,
      socketFor: (m, s) => (m === machineId ? sessionSocketPathFor(machine.home, s, machine.env) : undefined),
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  }, 60_000);

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
    expect(problems, 'page errors or CSP violations').toEqual([]);
    problems = [];
  });

  afterAll(async () => {
    await browser?.close();
    await bridge?.close();
    await cleanupAllHomes();
  });

  async function openPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    return page;
  }

  async function signIn(page: Page, token = hub.ownerToken, origin = bridge.url): Promise<void> {
    await page.goto(origin);
    await page.getByLabel('Hub token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.live-live').waitFor();
  }

  async function spawn(agentArgs: string[] = []): Promise<string> {
    const dir = join(machine.home, 'work');
    mkdirSync(dir, { recursive: true });
    const res = await fetch(`${hub.httpUrl}/api/v1/machines/${machineId}/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.ownerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ directory: dir, agent: 'tui', agentArgs }),
    });
    const body = (await res.json()) as { session: { id: string } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.session.id;
  }

  /** Taps the session in the list and waits for its terminal to be live. */
  async function openTerminal(page: Page, sessionId: string): Promise<void> {
    await page.locator(`[data-session-id="${sessionId}"] a.session-open`).click();
    await page.locator('.conn[data-state="live"]').waitFor();
    // The agent reads keys once its title is up (before, a paste may reach a terminal still in
    // cooked mode, as it would for a person typing that early).
    await waitForScreen(page, /fixture tui/, 'the agent');
  }

  const screenText = (page: Page) => page.locator('.term-host .xterm-rows').innerText();
  const waitForScreen = (page: Page, pattern: RegExp, what = String(pattern)) =>
    waitFor(async () => pattern.test(await screenText(page)), 15_000, `the screen to show ${what}`);

  it('opens a session by tapping it: the screen at once, then typing through the composer and the key bar', async () => {
    const sessionId = await spawn();
    const page = await openPage();
    await signIn(page);
    await openTerminal(page, sessionId);
    await waitForScreen(page, /fixture tui pid=\d+ size \d+x\d+/);
    // The phone-sized terminal took the page's size (a fit, sent in the hello).
    const hello = bridge.hellos.at(-1)!;
    expect(hello).toMatchObject({ sessionId, mode: 'interactive' });
    expect(hello.cols).toBeGreaterThan(30);
    expect(hello.cols).toBeLessThan(60);
    expect(await page.locator('.copy-sheet').count()).toBe(0);

    await page.getByLabel('Prompt').fill('fix the failing test');
    await page.getByRole('button', { name: 'Send' }).click();
    await waitForScreen(page, /pasted "fix the failing test"\s+got "\\r"/, 'the paste and Enter');
    expect(await page.getByLabel('Prompt').inputValue()).toBe('');

    await page.getByRole('button', { name: 'Ctrl-C' }).click();
    await waitForScreen(page, /got "\\u0003"/, 'Ctrl-C');
    await page.getByRole('button', { name: 'Escape' }).click();
    await waitForScreen(page, /got "\\u001b"/, 'Esc');
    await page.getByRole('button', { name: 'Up' }).click();
    await waitForScreen(page, /got "\\u001b\[A"/, 'the up arrow');
    await page.getByRole('button', { name: 'Shift-Tab' }).click();
    await waitForScreen(page, /got "\\u001b\[Z"/, 'Shift-Tab');

    // Typed on the keyboard into the terminal, with the sticky Ctrl: Ctrl then "z" is ^Z.
    await page.getByRole('button', { name: 'Ctrl', exact: true }).click();
    expect(await page.getByRole('button', { name: 'Ctrl', exact: true }).getAttribute('aria-pressed')).toBe('true');
    await page.locator('.term-host .xterm').click();
    await page.keyboard.type('z');
    await waitForScreen(page, /got "\\u001a"/, 'Ctrl-Z');
    expect(await page.getByRole('button', { name: 'Ctrl', exact: true }).getAttribute('aria-pressed')).toBe('false');

    // Copy: no clipboard on plain http, so the text is shown to copy by hand.
    await page.getByRole('button', { name: 'Copy' }).click();
    expect(await page.getByLabel('Copied text').inputValue()).toMatch(/fixture tui pid=\d+/);
    await page.getByRole('button', { name: 'Close' }).click();
    await page.screenshot({ path: join(ARTIFACTS, 'web-terminal-phone.png') });

    // Back closes it; the list is still there, without a reload.
    await page.getByRole('button', { name: 'Back to sessions' }).click();
    await page.locator('.term-screen').waitFor({ state: 'detached' });
    const row = page.locator(`[data-session-id="${sessionId}"]`);
    await row.waitFor();
    // The page closed its WebSocket; the close reaches the server a moment later.
    await waitFor(() => bridge.openCount() === 0, 10_000, 'the terminal socket closed');
    // The list shows the terminal's last line and how long ago it wrote, reported by the runner, live.
    await waitFor(async () => /got "\\u001a"/.test((await row.locator('.last-line').textContent().catch(() => '')) ?? ''), 15_000, 'the last line in the list');
    expect(await row.locator('.last-output').textContent()).toMatch(/^output \d+ s ago$/);
    await page.screenshot({ path: join(ARTIFACTS, 'web-terminal-list-phone.png') });
  });

  it('reconnects with its last offset after the hub goes away: the same screen, no duplicate, then live again', async () => {
    const sessionId = await spawn();
    const page = await openPage();
    await signIn(page);
    await openTerminal(page, sessionId);
    await page.getByLabel('Prompt').fill('before');
    await page.getByRole('button', { name: 'Send' }).click();
    await waitForScreen(page, /pasted "before"\s+got "\\r"/);
    const before = await screenText(page);
    const hellos = bridge.hellos.length;

    bridge.dropAll(1012);
    await waitFor(() => bridge.hellos.length > hellos, 15_000, 'the page to reconnect');
    await page.locator('.conn[data-state="live"]').waitFor();
    const resumed = bridge.hellos.at(-1)!;
    expect(resumed.lastOffset, 'the reconnect names the offset it holds').toMatch(/^[1-9]\d*$/);
    expect(await screenText(page)).toBe(before);

    await page.getByLabel('Prompt').fill('after');
    await page.getByRole('button', { name: 'Send' }).click();
    await waitForScreen(page, /pasted "after"/);
    const after = await screenText(page);
    expect(after.match(/pasted "before"/g)).toHaveLength(1);
    expect(after.match(/pasted "after"/g)).toHaveLength(1);
  });

  it('two browsers on one session see each other typing', async () => {
    const sessionId = await spawn();
    const a = await openPage();
    const b = await openPage();
    await signIn(a);
    await signIn(b);
    await openTerminal(a, sessionId);
    await openTerminal(b, sessionId);
    await a.getByLabel('Prompt').fill('from a');
    await a.getByRole('button', { name: 'Send' }).click();
    await waitForScreen(b, /pasted "from a"/);
    await b.getByRole('button', { name: 'Ctrl-C' }).click();
    await waitForScreen(a, /got "\\u0003"/);
  });

  it('a read-only token sees the terminal live but has nothing to type with, and sends nothing', async () => {
    const sessionId = await spawn();
    const page = await openPage();
    await signIn(page, viewerToken);
    await openTerminal(page, sessionId);
    await waitForScreen(page, /fixture tui/);
    expect(bridge.hellos.at(-1)).toMatchObject({ sessionId, mode: 'read-only' });
    expect(await page.locator('.term-tools .pill.read-only').textContent()).toBe('read-only');
    expect(await page.getByLabel('Prompt').count()).toBe(0);
    expect(await page.getByRole('toolbar', { name: 'Keys' }).count()).toBe(0);
    expect(await page.getByRole('checkbox', { name: 'Read-only' }).count()).toBe(0);
    // Typing on a keyboard into the terminal sends nothing.
    await page.locator('.term-host .xterm').click();
    await page.keyboard.type('x');
    // Output typed elsewhere still arrives live.
    const full = await openPage();
    await signIn(full);
    await openTerminal(full, sessionId);
    await full.getByLabel('Prompt').fill('typed by the owner');
    await full.getByRole('button', { name: 'Send' }).click();
    await waitForScreen(page, /pasted "typed by the owner"/);
    expect(bridge.refusedInputs).toBe(0);
    expect(await screenText(page)).not.toMatch(/got "x"/);
  });

  it('the read-only switch re-attaches read-only and back, from the same offset', async () => {
    const sessionId = await spawn();
    const page = await openPage();
    await signIn(page);
    await openTerminal(page, sessionId);
    await waitForScreen(page, /fixture tui/);
    await page.getByRole('checkbox', { name: 'Read-only' }).check();
    await waitFor(() => bridge.hellos.at(-1)?.mode === 'read-only', 10_000, 'a read-only hello');
    expect(bridge.hellos.at(-1)!.lastOffset).toMatch(/^\d+$/);
    expect(await page.getByLabel('Prompt').count()).toBe(0);
    await page.locator('.term-host .xterm').click();
    await page.keyboard.type('q');

    await page.getByRole('checkbox', { name: 'Read-only' }).uncheck();
    await waitFor(() => bridge.hellos.at(-1)?.mode === 'interactive', 10_000, 'an interactive hello');
    await page.locator('.conn[data-state="live"]').waitFor();
    await page.getByRole('button', { name: 'Ctrl-C' }).click();
    await waitForScreen(page, /got "\\u0003"/);
    expect(await screenText(page)).not.toMatch(/got "q"/);
  });

  it('scrolls back by touch through output longer than the screen', async () => {
    const sessionId = await spawn(['--no-alt', '--flood', '16000']);
    const page = await openPage();
    await signIn(page);
    await openTerminal(page, sessionId);
    await page.locator('.term-host .xterm').click();
    await page.keyboard.type('F');
    await waitForScreen(page, /flood done in/);
    expect(await screenText(page)).not.toMatch(/flood 00000001 /);

    // A finger dragged down the terminal, several times, as a person scrolls back.
    const box = (await page.locator('.term-host').boundingBox())!;
    const cdp = await page.context().newCDPSession(page);
    const x = box.x + box.width / 2;
    for (let i = 0; i < 12 && !/flood 00000001 /.test(await screenText(page)); i++) {
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y: box.y + 40 }] });
      for (let y = box.y + 60; y < box.y + box.height - 20; y += 40) {
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y }] });
      }
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    }
    await waitForScreen(page, /flood 00000001 /, 'the first flood lines after scrolling back');
  });

  it("through the hub's own attach endpoint: the screen, the composer and Ctrl-C, and a read-only token that only watches", async () => {
    const sessionId = await spawn();
    const page = await openPage();
    await signIn(page, hub.ownerToken, hub.httpUrl);
    await openTerminal(page, sessionId);
    await waitForScreen(page, /fixture tui pid=\d+/);
    await page.getByLabel('Prompt').fill('through the hub');
    await page.getByRole('button', { name: 'Send' }).click();
    await waitForScreen(page, /pasted "through the hub"\s+got "\\r"/);
    await page.getByRole('button', { name: 'Ctrl-C' }).click();
    await waitForScreen(page, /got "\\u0003"/);

    const viewer = await openPage();
    await signIn(viewer, viewerToken, hub.httpUrl);
    await openTerminal(viewer, sessionId);
    await waitForScreen(viewer, /got "\\u0003"/);
    expect(await viewer.getByLabel('Prompt').count()).toBe(0);
    expect(await viewer.getByRole('toolbar', { name: 'Keys' }).count()).toBe(0);
    await viewer.locator('.term-host .xterm').click();
    await viewer.keyboard.type('v');
    await page.getByRole('button', { name: 'Escape' }).click();
    await waitForScreen(viewer, /got "\\u001b"/);
    expect(await screenText(page)).not.toMatch(/got "v"/);
  });
});
