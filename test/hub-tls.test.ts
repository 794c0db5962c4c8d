// Issue 14 item 4: reaching the hub from a phone. `hapi up --host 0.0.0.0` makes a private CA and
// serves TLS on both ports, with a certificate a phone that trusts the CA accepts at the LAN
// address; a runner of another HAPI_HOME reaches a TLS hub with only NODE_EXTRA_CA_CERTS (grpc-js
// does not read it by itself), and without it is refused for the certificate, and attaches to its
// sessions through the hub over TLS (the attach stream is its own connection). Real processes.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { firstLanAddress } from '../src/hub/public-url.js';
import { ensurePrivateCa } from '../src/hub/tls/private-ca.js';
import { hapiPaths } from '../src/shared/paths.js';
import { cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';
import { startHubProcess } from './hub-helpers.js';
import { TUI_AGENT, hubViewer, input, type Tracked } from './hub-viewer.js';

const homes: TestHome[] = [];
const tracked: Tracked = { homes, hubs: [], closers: [] };
const home = (env: NodeJS.ProcessEnv = {}) => {
  const t = createTestHome(env);
  homes.push(t);
  return t;
};
afterEach(async () => {
  await Promise.all(homes.splice(0).map((t) => t.cleanup()));
});
afterAll(cleanupAllHomes);

/** GET over TLS trusting only `ca` (as a phone that installed it): status and body. */
function get(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers, servername: /^[\d.]+$/.test(new URL(url).hostname) ? '' : undefined }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('hub over TLS from its private CA', () => {
  it('`hapi up --host 0.0.0.0` serves TLS that a client trusting only the CA accepts at the LAN address', async () => {
    const lan = firstLanAddress();
    const th = home({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_API_URL: '' });
    const proc = th.spawnCli(['up', '--host', '0.0.0.0']);
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    await waitFor(() => /Ctrl\+C stops/.test(out), 30_000, `hapi up to be ready:\n${out}\n${err}`);
    expect(out).toContain("made the hub's private CA and a TLS certificate");
    expect(out).toMatch(/machine \S+ \(.*\) is online/);
    const grpcUrl = /hub gRPC listening on (\S+)/.exec(out)![1]!;
    expect(grpcUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const publicUrl = /open (\S+)\/ in a browser/.exec(out)![1]!;
    const port = new URL(/hub HTTP listening on (\S+)/.exec(out)![1]!).port;
    expect(publicUrl).toBe(`https://${lan ?? '127.0.0.1'}:${port}`);

    const paths = hapiPaths(th.env);
    const ca = readFileSync(paths.hubCaCert);
    expect(statSync(join(paths.hubTlsDir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(paths.hubTlsDir, 'hub-key.pem')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(readFileSync(join(paths.hubTlsDir, 'hub.pem')));
    expect(cert.checkIssued(new X509Certificate(ca))).toBe(true);
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    if (lan) expect(cert.subjectAltName).toContain(`IP Address:${lan}`);
    // Node itself checks the chain and the address against the certificate's names.
    const page = await get(`${publicUrl}/api/v1/machines`, ca, { authorization: `Bearer ${JSON.parse(readFileSync(paths.authFile, 'utf8')).token}` });
    expect(page.status).toBe(200);
    expect(page.body).toContain('"online":true');
    // Without the CA, the same address is refused.
    await expect(get(`${publicUrl}/`, Buffer.from(''))).rejects.toThrow(/certificate|self.signed|issuer/i);
    // Commands of this HAPI_HOME trust its own hub's CA.
    const machines = await th.cli(['machines', '--json']);
    expect(machines.code, machines.stderr).toBe(0);

    proc.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('a runner of another HAPI_HOME connects with only NODE_EXTRA_CA_CERTS, and is refused without it', async () => {
    const hubHome = home();
    const ca = await ensurePrivateCa(hapiPaths(hubHome.env), { extraHosts: ['localhost'] });
    const hub = await startHubProcess(hubHome, { HAPI_HUB_TLS_CERT: ca.cert, HAPI_HUB_TLS_KEY: ca.key });
    try {
      const url = hub.grpcUrl.replace('127.0.0.1', 'localhost');
      expect(url).toMatch(/^https:/);
      const trusting = home({ HAPI_API_URL: url, CLI_API_TOKEN: hub.ownerToken, NODE_EXTRA_CA_CERTS: ca.caCert, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${TUI_AGENT}` });
      const refused = home({ HAPI_API_URL: url, CLI_API_TOKEN: hub.ownerToken });
      expect((await trusting.cli(['runner', 'start'])).code).toBe(0);
      expect((await refused.cli(['runner', 'start'])).code).toBe(0);
      // This test's own client trusts the CA the same way.
      process.env.NODE_EXTRA_CA_CERTS = ca.caCert;
      const c = hub.clients();
      const pid = trusting.state()!.pid;
      await waitFor(async () => (await c.hub.listMachines({})).machines.some((m) => m.online && m.runnerState?.pid === pid), 20_000, 'the trusting runner online');
      const lastError = await waitFor(async () => {
        const s = JSON.parse((await refused.cli(['runner', 'status', '--json'])).stdout) as { hubLink: { lastError: string | null } };
        return s.hubLink.lastError;
      }, 20_000, 'the refused runner to report why');
      expect(lastError).toMatch(/certificate|self.signed|issuer/i);
      // The CLI reaches it the same way.
      const machines = await trusting.cli(['machines', '--json'], { env: { HAPI_API_URL: url } });
      expect(machines.code, machines.stderr).toBe(0);
      expect(machines.stdout).toContain(`${pid}`);

      // A terminal through the TLS hub: the runner opens its attach stream over TLS too.
      const machineId = (await c.hub.listMachines({})).machines.find((m) => m.runnerState?.pid === pid)!.id;
      const spawned = await c.hub.spawnSession({ machineId, spec: { directory: trusting.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } });
      const sessionId = spawned.outcome?.result?.$case === 'session' ? spawned.outcome.result.value.id : '';
      const v = hubViewer(tracked, () => c, machineId, sessionId);
      await waitFor(() => v.current().messages.some((m) => m.kind?.$case === 'snapshot'), 20_000, 'the snapshot through the TLS hub');
      v.send(input('a'));
      await waitFor(() => v.text().includes('got "a"'), 20_000, 'the echo through the TLS hub');
    } finally {
      for (const close of tracked.closers.splice(0)) close();
      delete process.env.NODE_EXTRA_CA_CERTS;
      await hub.stop();
    }
  });
});
