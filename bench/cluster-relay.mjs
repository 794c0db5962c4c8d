// Hub replicas (issue 15), forwarding and failover, against real hub processes on one PostgreSQL:
//  1. relay round trip (HubService.GetRunnerStatus) to a machine whose stream is on the replica
//     asked (same-replica) and on another one (cross-replica: caller -> B -> peer service -> A ->
//     runner stream and back), p50/p99, next to a raw bidi echo floor (gRPC over TCP, same
//     messages, separate processes) in the same run, with the ratios;
//  2. failover: a real runner (`hapi runner start`, HAPI_API_URL listing two replicas) on replica
//     X, kill -9 of X, time until its machine is online again on the other replica (claimed,
//     higher epoch), BENCH_FAILOVERS (3) rounds. Goal: < 10 s.
// Skipped with a message when PostgreSQL cannot run here (set BENCH_DATABASE_URL to use one).
import { fork, spawn } from 'node:child_process';
import pg from 'pg';
import { ChannelCredentials, createChannel, createClient, createServer, Metadata } from 'nice-grpc';
import { HubServiceDefinition, MachineServiceDefinition } from '../dist/bench-support.mjs';
import { CLI, fmt, summarize, tempHome } from './lib.mjs';
import { startPg } from './fixtures/pg-cluster.mjs';
import { queue } from './fixtures/runner-stream.mjs';

const ROLE = process.argv[2];
const SECRET = 'bench-cluster-secret-0123456789';

/** Child: one simulated runner stream on `url` answering getStatus. */
async function simRunner({ url, token, machineId }) {
  const client = createClient(MachineServiceDefinition, createChannel(new URL(url).host, ChannelCredentials.createInsecure()));
  const q = queue();
  q.push({
    message: {
      $case: 'hello',
      value: {
        machineId,
        metadata: { hostname: machineId, platform: 'linux', arch: 'x64', cliVersion: 'bench', displayName: machineId, homeDir: '/home/b', agents: [] },
        runnerState: { status: 1, pid: process.pid, startedAt: new Date(), shutdownReason: '', lastSpawnError: '', httpPort: 0 },
        protocolVersion: 1,
        capabilities: [],
        sessions: [],
      },
    },
  });
  setInterval(() => q.push({ message: { $case: 'alive', value: { time: new Date() } } }), 10_000);
  for await (const msg of client.connect(q, { metadata: Metadata({ authorization: `Bearer ${token}` }) })) {
    if (msg.message?.$case === 'welcome') process.send({ type: 'ready' });
    else if (msg.message?.$case === 'rpcRequest') {
      q.push({ message: { $case: 'rpcResponse', value: { requestId: msg.message.value.requestId, result: { $case: 'getStatus', value: { pid: process.pid, cliVersion: 'bench', sessionCount: 0, startedAt: new Date() } } } } });
    }
  }
}

/** Child: a raw bidi echo server on the same transport with the same messages. */
async function echoServer() {
  const server = createServer();
  server.add(MachineServiceDefinition, {
    async *connect(requests) {
      for await (const req of requests) {
        if (req.message?.$case === 'rpcResponse') yield { message: { $case: 'rpcRequest', value: { requestId: req.message.value.requestId, method: { $case: 'getStatus', value: {} } } } };
      }
    },
    // Not used here; the definition has it.
    async *attachStream() {},
  });
  const port = await server.listen('127.0.0.1:0');
  process.send({ type: 'port', port });
}

function child(args) {
  const c = fork(import.meta.filename, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages = [];
  c.on('message', (m) => messages.push(m));
  return {
    proc: c,
    async next(type, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = messages.findIndex((m) => m.type === type);
        if (i >= 0) return messages.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`child did not report ${type}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** A replica on `url`: its own HAPI_HOME, random ports, a peer port; resolves once it listens. */
async function startReplica(dbUrl, homes, procs) {
  const h = tempHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_LOG_LEVEL: 'warn', HAPI_HUB_DATABASE_URL: dbUrl, HAPI_HUB_PEER_ADDR: '127.0.0.1:0', HAPI_HUB_CLUSTER_SECRET: SECRET });
  homes.push(h);
  const proc = spawn(process.execPath, [CLI, 'hub'], { env: h.env, stdio: ['ignore', 'pipe', 'ignore'] });
  procs.push(proc);
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const deadline = Date.now() + 30_000;
  while (!/hub peer service listening on/.test(out) || !/sign in on the web page/.test(out)) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`replica did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    url: /hub gRPC listening on (\S+)/.exec(out)[1],
    token: /owner token[^\n]*:\n\s+(\S+)/.exec(out)?.[1],
    replicaId: /\(replica (\S+);/.exec(out)[1],
  };
}

async function timed(n, fn) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn(i);
    samples.push(performance.now() - s);
  }
  return summarize(samples);
}

async function main() {
  const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
  const ROUNDS = Number(process.env.BENCH_FAILOVERS ?? 3);
  const server = await startPg();
  if (!server) return;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const name = `bench_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = server.url.replace(/\/postgres$/, `/${name}`);
  const db = new pg.Client({ connectionString: dbUrl });
  const homes = [];
  const procs = [];
  const kids = [];
  try {
    const a = await startReplica(dbUrl, homes, procs);
    await db.connect();
    const b = await startReplica(dbUrl, homes, procs);
    const token = a.token;
    const clientOf = (r) => createClient(HubServiceDefinition, createChannel(new URL(r.url).host, ChannelCredentials.createInsecure()), { '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) } });
    const onA = clientOf(a);
    const onB = clientOf(b);

    // 1. relay, same-replica vs cross-replica vs raw echo.
    const runner = child(['--sim-runner', JSON.stringify({ url: a.url, token, machineId: 'relay-0' })]);
    kids.push(runner.proc);
    await runner.next('ready');
    const echo = child(['--echo-server']);
    kids.push(echo.proc);
    const { port } = await echo.next('port');
    const echoClient = createClient(MachineServiceDefinition, createChannel(`127.0.0.1:${port}`, ChannelCredentials.createInsecure()));
    const eq = queue();
    const pending = new Map();
    let seq = 0;
    (async () => {
      for await (const m of echoClient.connect(eq)) pending.get(m.message.value.requestId)?.();
    })().catch(() => undefined);
    const echoOnce = () =>
      new Promise((r) => {
        const id = String(seq++);
        pending.set(id, () => {
          pending.delete(id);
          r();
        });
        eq.push({ message: { $case: 'rpcResponse', value: { requestId: id, result: { $case: 'stopRunner', value: true } } } });
      });
    const same = () => onA.getRunnerStatus({ machineId: 'relay-0' });
    const cross = () => onB.getRunnerStatus({ machineId: 'relay-0' });
    for (let i = 0; i < 200; i++) {
      await same();
      await cross();
      await echoOnce();
    }
    const s = await timed(CALLS, same);
    const c = await timed(CALLS, cross);
    const raw = await timed(CALLS, echoOnce);
    console.log(`\n## relay round trip (GetRunnerStatus), ${CALLS} sequential each, 2 replicas on one PostgreSQL`);
    console.log(`same-replica   p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}   (caller -> A -> runner stream on A)`);
    console.log(`cross-replica  p50 ${fmt(c.p50)}  p99 ${fmt(c.p99)}   (caller -> B -> PeerService.Relay -> A -> runner stream)`);
    console.log(`raw echo       p50 ${fmt(raw.p50)}  p99 ${fmt(raw.p99)}   (one bidi stream round trip, the floor)`);
    console.log(`ratios p50: same/raw ${(s.p50 / raw.p50).toFixed(2)}x  cross/raw ${(c.p50 / raw.p50).toFixed(2)}x  cross/same ${(c.p50 / s.p50).toFixed(2)}x`);
    eq.end();

    // 2. failover after kill -9.
    const times = [];
    for (let round = 0; round < ROUNDS; round++) {
      const x = await startReplica(dbUrl, homes, procs);
      const rt = tempHome({ HAPI_API_URL: `${x.url},${b.url}`, CLI_API_TOKEN: token, HAPI_LOG_LEVEL: 'warn' });
      homes.push(rt);
      rt.cli(['runner', 'start']);
      const machineId = (await import('node:fs')).readFileSync(`${rt.home}/machine-id`, 'utf8').trim();
      const owner = async () => (await db.query('SELECT owner_replica, owner_epoch, online FROM machines WHERE id = $1', [machineId])).rows[0];
      for (const deadline = Date.now() + 30_000; ; ) {
        const o = await owner();
        if (o?.online === 1 && o.owner_replica === x.replicaId) break;
        if (Date.now() > deadline) throw new Error('the runner did not come online on its first replica');
        await new Promise((r) => setTimeout(r, 20));
      }
      const t0 = performance.now();
      x.proc.kill('SIGKILL');
      for (const deadline = Date.now() + 60_000; ; ) {
        const o = await owner();
        if (o?.online === 1 && o.owner_replica === b.replicaId) break;
        if (Date.now() > deadline) throw new Error('the runner did not come online on the other replica');
        await new Promise((r) => setTimeout(r, 10));
      }
      times.push(performance.now() - t0);
      try {
        rt.cli(['runner', 'stop']);
      } catch {}
    }
    const f = summarize(times);
    console.log(`\n## failover: kill -9 of the runner's replica until its machine is online on another (${ROUNDS} rounds)`);
    console.log(`failover  min ${fmt(Math.min(...times))}  p50 ${fmt(f.p50)}  max ${fmt(Math.max(...times))}   goal < 10 s: ${Math.max(...times) < 10_000 ? 'met' : 'NOT met'}`);
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    for (const p of procs) p.kill('SIGKILL');
    for (const h of homes) h.cleanup();
    await db.end().catch(() => undefined);
    await server.stop();
  }
}

if (ROLE === '--sim-runner') await simRunner(JSON.parse(process.argv[3]));
else if (ROLE === '--echo-server') await echoServer();
else await main();
