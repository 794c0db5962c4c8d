// Issue 15 item "deployment": deploy/haproxy/haproxy.cfg runs as shipped (only the certificate,
// the listen ports and the replicas' addresses swapped for the test's) in front of three real
// hub replicas on one throwaway PostgreSQL. `haproxy -c` accepts it; a real runner reaches the
// cluster's gRPC through it, trusting the private CA by NODE_EXTRA_CA_CERTS only; the REST view
// answers through it; when the replica holding the runner's stream is killed (-9), HAProxy's
// /readyz checks take it out and the runner is back online through another replica.
// deploy/systemd/hapi-hub@.service passes systemd-analyze verify. Skipped loudly when haproxy
// (.ci/setup-haproxy installs it) or PostgreSQL is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ensurePrivateCa } from '../src/hub/tls/private-ca.js';
import { hapiPaths } from '../src/shared/paths.js';
import { REPO_ROOT, cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';
import { freePort, startHubCluster, type HubCluster, type Replica } from './cluster-harness.js';
import { startPgCluster } from './pg-cluster.js';
import { machineIdOf } from './runner-calls.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const haproxy = has('haproxy');
const pgc = haproxy ? await startPgCluster() : undefined;
if (!haproxy) {
  const bar = '!'.repeat(100);
  process.stderr.write(`\n${bar}\n!!! HAPROXY TESTS SKIPPED: haproxy is not installed (.ci/setup-haproxy installs Debian's); deploy/haproxy/haproxy.cfg was not run\n${bar}\n\n`);
}

let cluster: HubCluster | undefined;
const procs: ChildProcess[] = [];
const homes: TestHome[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  await cluster?.stop();
  cluster = undefined;
  for (const h of homes.splice(0)) await h.cleanup();
});
afterAll(async () => {
  await cleanupAllHomes();
  await pgc?.stop();
});

function get(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Runner streams a replica holds, from its own /metrics. */
async function streamsOn(r: Replica, token: string): Promise<number> {
  const res = await fetch(`${r.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const m = /^hapi_hub_runner_streams(?:\{[^}]*\})? (\d+)/m.exec(await res.text());
  return Number(m?.[1] ?? 0);
}

describe.skipIf(!haproxy || !pgc)('three hub replicas behind HAProxy (deploy/haproxy/haproxy.cfg)', () => {
  it('carries runners and REST to every replica, and takes a killed replica out', async () => {
    cluster = await startHubCluster(pgc!, { replicas: 3, env: { HAPI_WEB_TRUSTED_PROXIES: '127.0.0.1' } });
    const owner = cluster.ownerToken;
    const work = createTestHome();
    homes.push(work);
    const ca = await ensurePrivateCa(hapiPaths(work.env), { extraHosts: ['localhost'] });
    const pem = join(work.home, 'haproxy.pem');
    writeFileSync(pem, readFileSync(ca.cert, 'utf8') + readFileSync(ca.key, 'utf8'), { mode: 0o600 });
    const grpcPort = await freePort();
    const webPort = await freePort();

    let cfg = readFileSync(join(REPO_ROOT, 'deploy', 'haproxy', 'haproxy.cfg'), 'utf8')
      .replaceAll('/etc/haproxy/certs/hub.example.com.pem', pem)
      .replace('bind :3737 ', `bind 127.0.0.1:${grpcPort} `)
      .replace('bind :443 ', `bind 127.0.0.1:${webPort} `);
    const shipped = ['10.0.0.11', '10.0.0.12', '10.0.0.13'];
    cluster.replicas.forEach((r, i) => {
      const g = new URL(r.grpcUrl).port;
      const h = new URL(r.httpUrl).port;
      cfg = cfg.replace(`${shipped[i]}:3737 port 3738`, `127.0.0.1:${g} port ${h}`).replace(`${shipped[i]}:3738`, `127.0.0.1:${h}`);
    });
    expect(cfg).not.toMatch(/10\.0\.0\.1\d/);
    const file = join(work.home, 'haproxy.cfg');
    writeFileSync(file, cfg);
    const checked = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
    expect(checked.status, `${checked.stdout}${checked.stderr}`).toBe(0);

    const p = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(p);
    let log = '';
    p.stdout!.on('data', (d) => (log = (log + d).slice(-20_000)));
    p.stderr!.on('data', (d) => (log = (log + d).slice(-20_000)));
    const caPem = readFileSync(ca.caCert);
    const web = `https://localhost:${webPort}`;
    await waitFor(async () => (await get(`${web}/readyz`, caPem)).status === 200, 20_000, `HAProxy to answer /readyz:\n${log}`);

    // A real runner through HAProxy's gRPC port, trusting the CA by NODE_EXTRA_CA_CERTS only.
    const runner = createTestHome({ HAPI_API_URL: `https://localhost:${grpcPort}`, CLI_API_TOKEN: owner, NODE_EXTRA_CA_CERTS: ca.caCert });
    homes.push(runner);
    const started = await runner.cli(['runner', 'start']);
    expect(started.code, started.stderr).toBe(0);
    const machineId = await machineIdOf(runner.home);
    const auth = { authorization: `Bearer ${owner}` };
    await waitFor(async () => {
      const r = await get(`${web}/api/v1/machines`, caPem, auth);
      return r.status === 200 && r.body.includes(machineId) && r.body.includes('"online":true');
    }, 20_000, 'the runner online, seen through HAProxy');
    // Every replica lists it (they all read PostgreSQL).
    for (const r of cluster.replicas) expect((await r.clients().hub.listMachines({})).machines.map((m) => m.id)).toContain(machineId);

    // Kill -9 the replica holding the stream: HAProxy takes it out, the runner reconnects elsewhere.
    const holder = await waitFor(async () => {
      for (const r of cluster!.replicas) if ((await streamsOn(r, owner)) === 1) return r;
      return undefined;
    }, 20_000, 'a replica to hold the runner stream');
    await holder.stop('SIGKILL');
    const others = cluster.replicas.filter((r) => r !== holder);
    const moved = await waitFor(async () => {
      for (const r of others) if ((await streamsOn(r, owner).catch(() => 0)) === 1) return r;
      return undefined;
    }, 45_000, `the runner to reconnect through HAProxy to another replica:\n${log.slice(-3_000)}`);
    expect((await moved.clients().hub.listMachines({})).machines.find((m) => m.id === machineId)?.online).toBe(true);
    await waitFor(async () => (await get(`${web}/api/v1/machines`, caPem, auth)).status === 200, 20_000, 'REST through HAProxy without the killed replica');
    await runner.cli(['runner', 'stop']);
  });
});

describe('deploy/systemd', () => {
  it('ships a systemd template unit that systemd-analyze accepts', () => {
    if (!has('systemd-analyze')) {
      console.warn('SKIPPED: systemd-analyze is not installed; deploy/systemd/hapi-hub@.service was not verified');
      return;
    }
    const t = createTestHome();
    homes.push(t);
    const etc = join(t.home, 'etc');
    mkdirSync(etc);
    copyFileSync(join(REPO_ROOT, 'deploy', 'systemd', 'hub.env.example'), join(etc, 'hub.env'));
    copyFileSync(join(REPO_ROOT, 'deploy', 'systemd', 'hub-a.env.example'), join(etc, 'hub-a.env'));
    // The instance a, with the paths of this machine (the unit's ExecStart must exist).
    const unit = readFileSync(join(REPO_ROOT, 'deploy', 'systemd', 'hapi-hub@.service'), 'utf8')
      .replaceAll('/etc/hapi/', `${etc}/`)
      .replace('/usr/local/bin/hapi hub', `${process.execPath} ${join(REPO_ROOT, 'dist', 'hapi.cjs')} hub`);
    const file = join(t.home, 'hapi-hub@a.service');
    writeFileSync(file, unit);
    const v = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(v.status, `${v.stdout}${v.stderr}`).toBe(0);
    expect(v.stderr).not.toMatch(/hapi-hub@a\.service:\d+:/);
  });
});
