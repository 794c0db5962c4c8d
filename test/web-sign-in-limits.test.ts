// One namespace cannot sign another out of the web page (issue 10, item 6), against a real hub
// process: 10,000 sign-ins with one namespace's token used to fill the shared pool of sign-ins
// and end the owner's. Now they are refused with 429 and Retry-After (per client address, as
// the trusted proxy reports it, and per token) and the owner stays signed in.
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAllHomes, createTestHome, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

interface SignIn {
  status: number;
  cookie?: string;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

function webClient(httpUrl: string) {
  return {
    /** POST /auth/login as the browser at `clientIp` would, through the proxy on 127.0.0.1. */
    async signIn(token: string, clientIp: string): Promise<SignIn> {
      const res = await fetch(`${httpUrl}/auth/login`, {
        method: 'POST',
        headers: { origin: httpUrl, 'content-type': 'application/json', 'x-forwarded-for': clientIp },
        body: JSON.stringify({ token }),
      });
      const body = (await res.json()) as Record<string, unknown>;
      return { status: res.status, cookie: res.headers.get('set-cookie')?.split(';')[0], retryAfter: res.headers.get('retry-after'), body };
    },
    async signedIn(cookie: string): Promise<number> {
      const res = await fetch(`${httpUrl}/auth/session`, { headers: { cookie } });
      await res.arrayBuffer();
      return res.status;
    },
  };
}

/** Runs `n` calls of `fn`, `parallel` at a time; returns their results. */
async function pool<T>(n: number, parallel: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

describe('web sign-ins: one namespace cannot sign another out', () => {
  it('10,000 sign-ins with one namespace token are refused with 429 + Retry-After, and the owner stays signed in', async () => {
    const th = createTestHome();
    homes.push(th);
    // The test stands in for a reverse proxy on 127.0.0.1 that reports each client's address.
    const h = await startHubProcess(th, { HAPI_WEB_TRUSTED_PROXIES: '127.0.0.1' });
    hubs.push(h);
    const team = await h.clients().tokens.createToken({ namespace: 'teamb', label: 'attacker' });
    const web = webClient(h.httpUrl);

    const owner = await web.signIn(h.ownerToken, '198.51.100.1');
    expect(owner.status).toBe(200);
    expect(await web.signedIn(owner.cookie!)).toBe(200);

    // From one address: the address limit and the token limit refuse nearly all of them.
    const flood = await pool(10_000, 16, () => web.signIn(team.token, '203.0.113.66'));
    expect(await web.signedIn(owner.cookie!), 'the owner is still signed in').toBe(200);
    const ok = flood.filter((r) => r.status === 200).length;
    const refused = flood.filter((r) => r.status === 429);
    expect(ok + refused.length).toBe(10_000);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(100);
    for (const r of refused.slice(0, 50)) {
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(r.body).toMatchObject({ success: false, code: 'ResourceExhausted', error: expect.stringMatching(/^too many sign-ins .*; try again in \d+ s$/) });
    }

    // From many addresses (each under its own limit): the same token is still limited.
    const spread = await pool(500, 16, (i) => web.signIn(team.token, `203.0.${113 + (i >> 8)}.${i & 255}`));
    expect(spread.filter((r) => r.status === 200).length).toBeLessThan(10);
    expect(spread.filter((r) => r.status === 429).length).toBeGreaterThan(490);
    expect(spread.find((r) => r.status === 429)?.body.error).toMatch(/with this credential/);

    // The limits are per client and per token: the owner signs in from elsewhere, and is refused
    // only at the flooded address (its X-Forwarded-For counts because 127.0.0.1 is trusted).
    expect((await web.signIn(h.ownerToken, '198.51.100.2')).status).toBe(200);
    // The address's allowance refills over time (one every few seconds, and this test may run on
    // a busy machine): use it up again right before the owner's try.
    for (let i = 0; i < 100; i++) if ((await web.signIn('not-a-token', '203.0.113.66')).status === 429) break;
    const atFlooded = await web.signIn(h.ownerToken, '203.0.113.66');
    expect(atFlooded.status).toBe(429);
    expect(atFlooded.body.error).toMatch(/from this address/);
    expect(await web.signedIn(owner.cookie!)).toBe(200);
  }, 120_000);

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const th = createTestHome();
    homes.push(th);
    const h = await startHubProcess(th);
    hubs.push(h);
    const web = webClient(h.httpUrl);
    // Each try claims another address; without a trusted proxy they all count as 127.0.0.1.
    const t0 = Date.now();
    const tries = await pool(40, 4, (i) => web.signIn('not-a-token', `192.0.2.${i}`));
    // 20 at once, then one more every 3 s: on a slow machine a few more get through. Were the
    // header believed, every try would have its own address and none would be refused.
    const refills = Math.ceil((Date.now() - t0) / 3_000);
    const unauthenticated = tries.filter((r) => r.status === 401).length;
    expect(unauthenticated).toBeGreaterThanOrEqual(20);
    expect(unauthenticated).toBeLessThanOrEqual(20 + refills);
    expect(tries.filter((r) => r.status === 429).length).toBe(40 - unauthenticated);
  }, 60_000);
});
