/**
 * The installable page and its service worker in Debian's chromium against a real in-process
 * hub: the manifest, icons and /sw.js are served with their content types under the page's CSP
 * (worker-src 'self'); the worker registers, and a push delivered to it (DevTools'
 * ServiceWorker.deliverPushMessage, as the browser's push service would) is shown as a
 * notification with the session's title, the Approve / Deny actions and the request id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { silentLogger } from '../src/shared/logger.js';
import { startLocalHub } from '../src/hub/serve.js';
import { waitFor } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('installable page and service worker', () => {
  let hub: Awaited<ReturnType<typeof startLocalHub>>;
  let home: string;
  let browser: Browser;
  let ownerToken: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'hapi-push-page-'));
    hub = await startLocalHub({ env: { HAPI_HOME: home, HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0' }, log: silentLogger(), out: () => undefined });
    ownerToken = hub.hub.createdOwnerToken!;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.stop('test over');
    rmSync(home, { recursive: true, force: true });
  });

  it('serves the manifest, icons and worker with their types under the CSP', async () => {
    const base = hub.hub.httpUrl;
    const html = await (await fetch(`${base}/`)).text();
    expect(html).toContain('<link rel="manifest" href="/manifest.webmanifest" />');
    const manifest = await fetch(`${base}/manifest.webmanifest`);
    expect(manifest.headers.get('content-type')).toBe('application/manifest+json');
    const m = (await manifest.json()) as { display: string; start_url: string; icons: { src: string; sizes: string; type: string }[] };
    expect(m).toMatchObject({ display: 'standalone', start_url: '/' });
    for (const icon of m.icons) {
      const res = await fetch(`${base}${icon.src}`);
      expect(res.status, icon.src).toBe(200);
      expect(res.headers.get('content-type')).toContain(icon.type);
    }
    const sw = await fetch(`${base}/sw.js`);
    expect(sw.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(sw.headers.get('content-security-policy')).toContain("worker-src 'self'");
  });

  it('registers the worker, and shows a delivered push with its actions', async () => {
    const context = await browser.newContext();
    await context.grantPermissions(['notifications'], { origin: hub.hub.httpUrl });
    const page = await context.newPage();
    const cspErrors: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) cspErrors.push(msg.text());
    });
    await page.goto(hub.hub.httpUrl);
    await page.getByLabel('Hub token').fill(ownerToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.live-live').waitFor();
    await page.locator('.push-toggle').waitFor();

    const cdp = await context.newCDPSession(page);
    const registrations: { registrationId: string; scopeURL: string }[] = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; scopeURL: string }[] }) => registrations.push(...e.registrations));
    await cdp.send('ServiceWorker.enable');
    await page.evaluate(() => navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(() => undefined));
    // Generous waits: on a loaded machine a worker's start and a notification take seconds.
    await waitFor(() => page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state === 'activated'), 45_000, 'the worker to activate');
    const reg = await waitFor(() => registrations.find((r) => r.scopeURL === `${hub.hub.httpUrl}/`), 45_000, 'the worker registration');

    const payload = {
      v: 1,
      title: 'Needs your approval: app (claude) on laptop',
      body: 'Bash: npm publish',
      tag: 'hapi:m1/s1',
      machineId: 'm1',
      sessionId: 's1',
      state: 'needs_approval',
      requestId: 'req-7',
      actions: [{ action: 'approve', title: 'Approve' }, { action: 'deny', title: 'Deny' }],
    };
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: hub.hub.httpUrl, registrationId: reg.registrationId, data: JSON.stringify(payload) });
    const shown = await waitFor(async () => {
      const list = await page.evaluate(async () => {
        const r = await navigator.serviceWorker.ready;
        return (await r.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data as unknown, actions: (n as unknown as { actions: { action: string }[] }).actions.map((a) => a.action) }));
      });
      return list.length > 0 ? list : undefined;
    }, 45_000, 'the notification');
    expect(shown).toEqual([
      { title: payload.title, body: payload.body, tag: 'hapi:m1/s1', data: { machineId: 'm1', sessionId: 's1', requestId: 'req-7', tag: 'hapi:m1/s1' }, actions: ['approve', 'deny'] },
    ]);
    expect(cspErrors).toEqual([]);
    await context.close();
  });
});
