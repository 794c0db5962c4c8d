// Issue 14 item 4: the reverse-proxy configs in deploy/ work as written. The shipped nginx server
// block and Caddyfile run for real (only the name, ports and certificate swapped for the test's),
// in front of a real hub: a runner reaches the hub's gRPC through the proxy, trusting the proxy's
// private CA with NODE_EXTRA_CA_CERTS alone; the web page, the REST view and its event stream
// answer through it. Skipped loudly when nginx or caddy is not installed (`apt-get install nginx
// caddy` on Debian 12 brings both).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensurePrivateCa } from '../src/hub/tls/private-ca.js';
import { hapiPaths } from '../src/shared/paths.js';
import { REPO_ROOT, cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';
import { startHubProcess } from './hub-helpers.js';

const homes: TestHome[] = [];
const procs: ChildProcess[] = [];
const home = (env: NodeJS.ProcessEnv = {}) => {
  const t = createTestHome(env);
  homes.push(t);
  return t;
};
/** Stops a proxy the way its manager would (SIGTERM: nginx's master then ends its workers; a SIGKILL would orphan them). */
async function stopProxy(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

afterEach(async () => {
  await Promise.all(procs.splice(0).map(stopProxy));
  await Promise.all(homes.splice(0).map((t) => t.cleanup()));
});
afterAll(cleanupAllHomes);

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** GET over TLS trusting `ca`; resolves with the status and the first `max` bytes of the body. */
function get(url: string, ca: Buffer, headers: Record<string, string> = {}, max = 1 << 20): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
        // An event stream never ends: its first event is enough.
        if (body.length >= max || (res.headers['content-type']?.startsWith('text/event-stream') && body.includes('\n\n'))) {
          resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) });
          req.destroy();
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Proxy {
  /** Writes the proxy's config for a hub on these ports, behind https://localhost:<port>; returns the command that runs it. */
  prepare(dir: string, o: { port: number; grpcPort: string; httpPort: string; cert: string; key: string }): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv; check?: string[] };
}

const nginx: Proxy = {
  prepare(dir, o) {
    const block = readFileSync(join(REPO_ROOT, 'deploy', 'nginx', 'hapi.conf'), 'utf8')
      .replaceAll('hub.example.com', 'localhost')
      .replace('/etc/letsencrypt/live/localhost/fullchain.pem', o.cert)
      .replace('/etc/letsencrypt/live/localhost/privkey.pem', o.key)
      .replace('127.0.0.1:3738', `127.0.0.1:${o.httpPort}`)
      .replace('127.0.0.1:3737', `127.0.0.1:${o.grpcPort}`)
      .replace('listen 443 ssl http2;', `listen 127.0.0.1:${o.port} ssl http2;`)
      .replace('listen [::]:443 ssl http2;', '')
      // The redirect server: not needed here, and port 80 may be taken.
      .replace(/server \{\s*listen 80;[\s\S]*$/, '');
    mkdirSync(join(dir, 'tmp'));
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off;\nuser root;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\n` +
        `http {\naccess_log off;\nclient_body_temp_path ${dir}/tmp/body;\nproxy_temp_path ${dir}/tmp/proxy;\nfastcgi_temp_path ${dir}/tmp/fcgi;\n` +
        `uwsgi_temp_path ${dir}/tmp/uwsgi;\nscgi_temp_path ${dir}/tmp/scgi;\n${block}\n}\n`,
    );
    // -e: the start-up error log too is ours (as a non-root user nginx cannot open the default one).
    const log = join(dir, 'error.log');
    return { cmd: 'nginx', args: ['-e', log, '-p', dir, '-c', conf], check: ['nginx', '-t', '-e', log, '-p', dir, '-c', conf] };
  },
};

const caddy: Proxy = {
  prepare(dir, o) {
    const file = readFileSync(join(REPO_ROOT, 'deploy', 'caddy', 'Caddyfile'), 'utf8')
      .replace('hub.example.com {', `https://localhost:${o.port} {\n\ttls ${o.cert} ${o.key}`)
      .replace('127.0.0.1:3737', `127.0.0.1:${o.grpcPort}`)
      .replace('127.0.0.1:3738', `127.0.0.1:${o.httpPort}`);
    const conf = join(dir, 'Caddyfile');
    writeFileSync(conf, `{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n}\n${file}`);
    const env = { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
    return { cmd: 'caddy', args: ['run', '--config', conf, '--adapter', 'caddyfile'], env, check: ['caddy', 'validate', '--config', conf, '--adapter', 'caddyfile'] };
  },
};

describe.each([
  ['nginx', nginx],
  ['caddy', caddy],
] as const)('the hub behind %s (deploy/)', (name, proxy) => {
  it.skipIf(!has(name))(`carries gRPC for runners and the CLI, the page, REST and its event stream`, async () => {
    const hubHome = home();
    const hub = await startHubProcess(hubHome, { HAPI_WEB_TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const ca = await ensurePrivateCa(hapiPaths(hubHome.env), { extraHosts: ['localhost'] });
      const port = await freePort();
      const dir = join(hubHome.home, name);
      mkdirSync(dir);
      const run = proxy.prepare(dir, { port, grpcPort: new URL(hub.grpcUrl).port, httpPort: new URL(hub.httpUrl).port, cert: ca.cert, key: ca.key });
      const env = { ...process.env, ...run.env };
      if (run.check) {
        const checked = spawnSync(run.check[0]!, run.check.slice(1), { env, encoding: 'utf8' });
        expect(checked.status, `${checked.stdout}${checked.stderr}`).toBe(0);
      }
      const p = spawn(run.cmd, run.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      let log = '';
      p.stdout!.on('data', (d) => (log += d));
      p.stderr!.on('data', (d) => (log += d));
      const caPem = readFileSync(ca.caCert);
      const base = `https://localhost:${port}`;
      await waitFor(async () => (await get(`${base}/`, caPem).catch(() => ({ status: 0 }))).status === 200, 15_000, `${name} to serve:\n${log}`);

      // A runner of another HAPI_HOME, through the proxy, trusting its CA by NODE_EXTRA_CA_CERTS only.
      const runner = home({ HAPI_API_URL: base, CLI_API_TOKEN: hub.ownerToken, NODE_EXTRA_CA_CERTS: ca.caCert });
      expect((await runner.cli(['runner', 'start'])).code).toBe(0);
      const pid = runner.state()!.pid;
      const auth = { authorization: `Bearer ${hub.ownerToken}` };
      await waitFor(async () => {
        const r = await get(`${base}/api/v1/machines`, caPem, auth);
        return r.status === 200 && r.body.includes(`"pid":${pid}`) && r.body.includes('"online":true');
      }, 20_000, 'the runner online, seen through the proxy');
      // The CLI's gRPC through the proxy too.
      const machines = await runner.cli(['machines', '--json']);
      expect(machines.code, machines.stderr).toBe(0);
      expect(machines.stdout).toContain(`${pid}`);
      // The page, and the event stream's first event (not held in a proxy buffer).
      const page = await get(`${base}/`, caPem);
      expect(page.type).toContain('text/html');
      const events = await get(`${base}/api/v1/events`, caPem, auth);
      expect(events.status).toBe(200);
      expect(events.type).toContain('text/event-stream');
      expect(events.body).toMatch(/^(event|data|id|:)/m);
    } finally {
      await hub.stop();
    }
  });
  if (!has(name)) console.warn(`SKIPPED: ${name} is not installed; deploy/${name === 'nginx' ? 'nginx/hapi.conf' : 'caddy/Caddyfile'} was not run`);
});
