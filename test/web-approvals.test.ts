// Approvals on the web page, in Debian's chromium against the real hub, runner and the hook
// fixture agent: a permission request shows as "needs you" at the top of the page, Approve in
// the browser lets the agent go on, Deny tells it no (from the terminal view), and the history
// shows both decisions made from the page, and one from a Web Push notification's action.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ActivityState } from '../gen/hapi/common/v1/common.js';
import { REPO_ROOT } from './harness.js';
import { screenShows, spawnFixture, startAttentionRig, type, watchedState, type AttentionRig } from './attention-helpers.js';

const CHROMIUM = '/usr/bin/chromium';

describe('approvals on the web page', () => {
  let rig: AttentionRig;
  let browser: Browser;
  const errors: string[] = [];

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing`).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'dist', 'web', 'index.html')), 'dist/web is missing: run npm run build').toBe(true);
    rig = await startAttentionRig();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.close();
  });

  async function signedIn(): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(rig.hub.httpUrl);
    await page.getByLabel('Hub token').fill(rig.hub.ownerToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.live-live').waitFor();
    return page;
  }

  it('shows the request at the top, Approve lets the agent go on, Deny from the terminal view stops it, both recorded', async () => {
    const id = await spawnFixture(rig);
    const page = await signedIn();
    const row = page.locator(`.needs-you [data-session-id="${id}"]`);
    expect(await row.count()).toBe(0);

    await type(rig, id, 'ask ls -la');
    await row.locator('[data-activity="needs-approval"]').waitFor();
    await row.locator('.approval-what', { hasText: 'Bash ls -la' }).waitFor();
    await row.getByRole('button', { name: 'Approve Bash ls -la' }).click();
    await screenShows(rig, id, /ALLOWED ls -la/);
    // Cleared everywhere: the group goes, and the session's badge says it works / waits again.
    await row.waitFor({ state: 'detached' });
    await page.locator(`[data-session-id="${id}"] [data-activity="waiting"]`).first().waitFor();

    // From the terminal view.
    await page.locator(`[data-session-id="${id}"] .session-open`).first().click();
    const term = page.locator('.term-screen');
    await term.waitFor();
    await type(rig, id, 'ask rm -rf /tmp/x');
    await term.getByRole('button', { name: 'Deny Bash rm -rf /tmp/x' }).click();
    await screenShows(rig, id, /DENIED: Denied from hapi\./);
    await watchedState(rig, id, ActivityState.ACTIVITY_STATE_WAITING_FOR_INPUT, (s) => s.activity!.requests.length === 0);

    // A Web Push notification's Approve: the service worker posts as web/public/sw.js does, with
    // this browser's sign-in, and says "push"; the decision is recorded as made from a notification.
    await type(rig, id, 'ask npm test');
    const pending = (await watchedState(rig, id, ActivityState.ACTIVITY_STATE_NEEDS_APPROVAL)).activity!.requests[0]!;
    const status = await page.evaluate(async (d) => {
      const { csrfToken } = (await (await fetch('/auth/session', { credentials: 'same-origin' })).json()) as { csrfToken: string };
      const res = await fetch(`/api/v1/machines/${d.machineId}/sessions/${d.sessionId}/approvals/${d.requestId}`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
        body: JSON.stringify({ decision: 'allow', origin: 'push' }),
      });
      return res.status;
    }, { machineId: rig.machineId, sessionId: id, requestId: pending.id });
    expect(status).toBe(200);
    await screenShows(rig, id, /ALLOWED npm test/);

    const history = term.locator('.decision-history');
    await history.locator('summary', { hasText: 'Decisions (3)' }).waitFor();
    await history.locator('summary').click();
    expect(await history.locator('li').allTextContents()).toEqual([
      expect.stringMatching(/^approved Bash ls -la by .+ from the page/),
      expect.stringMatching(/^denied Bash rm -rf \/tmp\/x by .+ from the page/),
      expect.stringMatching(/^approved Bash npm test by .+ from a notification/),
    ]);
    expect(errors).toEqual([]);
  }, 120_000);
});
