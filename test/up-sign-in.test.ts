// Issue 14 items 4 and 9: `hapi up` prints a QR code with a one-time sign-in link (the hub's own,
// src/hub/domain/sign-in-links.ts; never the owner token) that signs a browser in once, and
// commands that run as printed. Real processes.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';

let th: TestHome | undefined;
afterEach(async () => {
  await th?.cleanup();
  th = undefined;
});
afterAll(cleanupAllHomes);

describe('hapi up: sign-in link and printed commands', () => {
  it('the QR code\'s one-time link signs a browser in once; the printed commands run', async () => {
    const t = (th = createTestHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_API_URL: '' }));
    const proc = t.spawnCli(['up']);
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    await waitFor(() => /Ctrl\+C stops/.test(out), 30_000, `hapi up to be ready:\n${out}`);
    const ownerToken = readFileSync(join(t.home, 'hub-owner-token'), 'utf8').trim();
    expect(out).toContain('sign in on a phone: scan this');
    // One link, the QR code's: not a second one among the hub's start lines.
    expect(out.match(/#sign-in=/g)).toHaveLength(1);
    expect(out).toMatch(/[▀▄█]{7}/);
    // The QR code's link, printed under it: the page, with a one-time code in the fragment.
    const link = /^\s+(http\S+\/#sign-in=\S+)$/m.exec(out)![1]!;
    expect(link).not.toContain(ownerToken);
    const origin = new URL(link).origin;
    const code = decodeURIComponent(new URL(link).hash.slice('#sign-in='.length));
    const login = (o: { origin?: string }) =>
      fetch(`${origin}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(o.origin ? { origin: o.origin } : {}) },
        body: JSON.stringify({ code }),
      });
    // Another site cannot spend it (same-origin only); the page's own script can, once.
    expect((await login({ origin: 'https://evil.example' })).status).toBe(403);
    const signedIn = await login({ origin });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const session = await fetch(`${origin}/auth/session`, { headers: { cookie } });
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ namespace: 'default', owner: true });
    expect((await login({ origin })).status).toBe(401);

    // The printed commands work as printed (hapi is not on this PATH: they name node and the file).
    const printed = /^ {2}(.+) machines$/m.exec(out)![1]!;
    const r = spawnSync('sh', ['-c', `${printed} machines --json`], { env: t.env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).machines[0]).toMatchObject({ online: true });

    proc.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
