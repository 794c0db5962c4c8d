// Hub replicas on one PostgreSQL (issue 15): BENCH_REPLICAS (3) real hub processes and
// BENCH_STREAMS (5000) simulated runner streams spread evenly over them (10 per TCP connection).
//  1. PostgreSQL statements per second at steady state (pg_stat_statements calls, and
//     pg_stat_database commits), once with alive messages at the real cadence (every 20 s) and
//     once at 20x that (every second): the goal is flat, independent of alive traffic.
//  2. Memory per stream on each replica (RSS loaded - RSS idle, over the streams it holds).
//  3. Relay latency while loaded (GetRunnerStatus to a machine whose stream is on the replica
//     asked; cross-replica forwarding is measured by its own benchmark).
// Skipped with a message when PostgreSQL cannot run here (set BENCH_DATABASE_URL to use one).
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ChannelCredentials, createChannel, createClient, Metadata } from 'nice-grpc';
import { HubServiceDefinition, MachineServiceDefinition } from '../dist/bench-support.mjs';
import { CLI, fmt, summarize, tempHome } from './lib.mjs';
import { startPg } from './fixtures/pg-cluster.mjs';

const ROLE = process.argv[2];
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 20_000);

function queue() {
  const items = [];
  let wake;
  let done = false;
  return {
    push(x) {
      items.push(x);
      wake?.();
    },
    end() {
      done = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (items.length) yield items.shift();
        if (done) return;
        await new Promise((r) => (wake = r));
        wake = undefined;
      }
    },
  };
}

const hello = (machineId) => ({
  message: {
    $case: 'hello',
    value: {
      machineId,
      metadata: { hostname: machineId, platform: 'linux', arch: 'x64', cliVersion: 'bench', displayName: machineId, homeDir: '/home/b', agents: ['claude'] },
      runnerState: { status: 1, pid: process.pid, startedAt: new Date(), shutdownReason: '', lastSpawnError: '', httpPort: 0 },
      protocolVersion: 1,
      capabilities: [],
      sessions: [],
    },
  },
});

/** Child: `count` runner streams on one replica; alive every `aliveMs` spread evenly (changed by a message). */
async function simRunners({ url, token, prefix, count, perChannel }) {
  const target = new URL(url).host;
  const metadata = Metadata({ authorization: `Bearer ${token}` });
  let channel;
  const queues = [];
  const welcomedOnce = new Set();
  let retries = 0;
  const channels = [];
  for (let i = 0; i < count; i++) {
    if (i % perChannel === 0) channels.push((channel = createChannel(target, ChannelCredentials.createInsecure())));
    const client = createClient(MachineServiceDefinition, channel);
    queues.push(undefined);
    // Like a real runner: a refused or broken stream is opened again after a capped, jittered backoff.
    (async () => {
      for (let attempt = 0; ; attempt++) {
        const q = queue();
        queues[i] = q;
        q.push(hello(`${prefix}-${i}`));
        try {
          for await (const msg of client.connect(q, { metadata })) {
            if (msg.message?.$case === 'welcome') {
              attempt = 0;
              welcomedOnce.add(i);
              if (welcomedOnce.size === count) process.send({ type: 'ready', retries });
            } else if (msg.message?.$case === 'rpcRequest') {
              q.push({ message: { $case: 'rpcResponse', value: { requestId: msg.message.value.requestId, result: { $case: 'getStatus', value: { pid: process.pid, cliVersion: 'bench', sessionCount: 0, startedAt: new Date() } } } } });
            }
          }
        } catch {
          retries++;
        }
        q.end();
        const cap = Math.min(30_000, 500 * 2 ** attempt);
        await new Promise((r) => setTimeout(r, cap / 2 + Math.random() * (cap / 2)));
      }
    })();
  }
  let timer;
  let sent = 0;
  const cadence = (aliveMs) => {
    clearInterval(timer);
    let next = 0;
    const tick = 50;
    const batch = Math.max(1, Math.round((count * tick) / aliveMs));
    timer = setInterval(() => {
      for (let k = 0; k < batch; k++) {
        queues[next++ % count]?.push({ message: { $case: 'alive', value: { time: new Date() } } });
        sent++;
      }
    }, tick);
  };
  cadence(20_000);
  process.on('message', (m) => {
    if (m.type === 'cadence') cadence(m.aliveMs);
    if (m.type === 'count') process.send({ type: 'count', sent });
  });
}


function child(args) {
  const c = fork(import.meta.filename, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages = [];
  c.on('message', (m) => {
    if (m.type === 'error') console.error(`child error: ${m.message}`);
    messages.push(m);
  });
  return {
    proc: c,
    async next(type, timeoutMs = 300_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = messages.findIndex((m) => m.type === type);
        if (i >= 0) return messages.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`child did not report ${type}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function startReplica(env, ownerToken) {
  const h = tempHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_LOG_LEVEL: 'warn', ...env });
  const proc = spawn(process.execPath, [CLI, 'hub'], { env: h.env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const deadline = Date.now() + 30_000;
  while (!/hub HTTP listening on/.test(out) || (!ownerToken && !/owner token[^\n]*:\n\s+\S+/.test(out))) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`hub did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { h, proc, url: /hub gRPC listening on (\S+)/.exec(out)[1], token: ownerToken ?? /owner token[^\n]*:\n\s+(\S+)/.exec(out)[1] };
}

async function main() {
  const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 3);
  const STREAMS = Number(process.env.BENCH_STREAMS ?? 5000);
  const server = await startPg();
  if (!server) return;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const db = `bench_${process.pid}`;
  await admin.query(`CREATE DATABASE ${db}`);
  const url = server.url.replace(/\/[^/?]*(\?|$)/, `/${db}$1`);
  const stats = new pg.Client({ connectionString: url });
  await stats.connect();
  const statements = await stats.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').then(() => true, () => false);
  const replicas = [];
  const kids = [];
  try {
    for (let i = 0; i < REPLICAS; i++) replicas.push(await startReplica({ HAPI_HUB_DATABASE_URL: url }, replicas[0]?.token));
    const token = replicas[0].token;
    await new Promise((r) => setTimeout(r, 1_000));
    const idle = replicas.map((r) => rssMb(r.proc.pid));

    const t0 = Date.now();
    const per = Math.ceil(STREAMS / REPLICAS);
    const sims = replicas.map((r, k) => child(['--sim-runners', JSON.stringify({ url: r.url, token, prefix: `r${k}`, count: Math.min(per, STREAMS - k * per), perChannel: 10 })]));
    kids.push(...sims.map((s) => s.proc));
    const ready = await Promise.all(sims.map((s) => s.next('ready', 600_000)));
    const connectS = (Date.now() - t0) / 1000;
    const retried = ready.reduce((n, m) => n + m.retries, 0);
    // Let the connect burst settle before measuring: PostgreSQL's backends report their commit
    // counts to pg_stat_database up to 10 s late.
    await new Promise((r) => setTimeout(r, 12_000));
    const loaded = replicas.map((r) => rssMb(r.proc.pid));

    /** Statements (pg_stat_statements calls, without this bench's own) and commits per second over the window. */
    async function measure() {
      const sample = async () => {
        const x = (await stats.query('SELECT xact_commit::bigint AS c FROM pg_stat_database WHERE datname = current_database()')).rows[0].c;
        const s = statements ? (await stats.query("SELECT COALESCE(SUM(calls), 0)::bigint AS n FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() AND s.query NOT ILIKE '%pg_stat%'")).rows[0].n : 0;
        return { commits: Number(x), statements: Number(s) };
      };
      const sent0 = await Promise.all(sims.map(async (s) => (s.proc.send({ type: 'count' }), (await s.next('count')).sent)));
      const a = await sample();
      const w0 = Date.now();
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const b = await sample();
      if (process.env.BENCH_VERBOSE) {
        const top = await stats.query("SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS q FROM pg_stat_statements ORDER BY calls DESC LIMIT 8");
        console.log(top.rows);
      }
      const secs = (Date.now() - w0) / 1000;
      const sent1 = await Promise.all(sims.map(async (s) => (s.proc.send({ type: 'count' }), (await s.next('count')).sent)));
      const alive = sent1.reduce((x, y) => x + y, 0) - sent0.reduce((x, y) => x + y, 0);
      // The two samples' own commits (two per sample) are not the hubs'.
      if (process.env.BENCH_VERBOSE) console.log({ a, b });
      return { alivePerS: alive / secs, statementsPerS: (b.statements - a.statements) / secs, commitsPerS: Math.max(0, b.commits - a.commits - 2) / secs };
    }

    const slow = await measure();
    for (const s of sims) s.proc.send({ type: 'cadence', aliveMs: 1_000 });
    await new Promise((r) => setTimeout(r, 2_000));
    const fast = await measure();
    for (const s of sims) s.proc.send({ type: 'cadence', aliveMs: 20_000 });

    // Relay while loaded: to a machine whose stream is on the replica asked.
    const latency = [];
    for (const [k, r] of replicas.entries()) {
      const ch = createChannel(new URL(r.url).host, ChannelCredentials.createInsecure());
      const hub = createClient(HubServiceDefinition, ch, { '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) } });
      for (let i = 0; i < 200; i++) {
        const s = performance.now();
        await hub.getRunnerStatus({ machineId: `r${k}-${Math.floor(Math.random() * (per - 1))}` });
        latency.push(performance.now() - s);
      }
      if (k === 0) {
        const online = (await hub.listMachines({})).machines.filter((m) => m.online).length;
        console.log(`\n## ${REPLICAS} replicas, ${STREAMS} runner streams (10 per TCP connection): ${online} online, all connected in ${connectS.toFixed(1)} s (${retried} refused or broken connects retried, as runners do)`);
      }
      ch.close();
    }
    console.log(`PostgreSQL at steady state over ${WINDOW_MS / 1000} s windows (${statements ? 'pg_stat_statements calls' : 'pg_stat_statements unavailable'}; commits from pg_stat_database):`);
    console.log(`  alive every 20 s (${slow.alivePerS.toFixed(0)} alive/s): ${slow.statementsPerS.toFixed(2)} statements/s, ${slow.commitsPerS.toFixed(2)} commits/s`);
    console.log(`  alive every 1 s  (${fast.alivePerS.toFixed(0)} alive/s): ${fast.statementsPerS.toFixed(2)} statements/s, ${fast.commitsPerS.toFixed(2)} commits/s`);
    replicas.forEach((r, k) => {
      const n = Math.min(per, STREAMS - k * per);
      console.log(`replica ${String.fromCharCode(65 + k)}: RSS ${idle[k].toFixed(0)} MB idle -> ${loaded[k].toFixed(0)} MB with ${n} streams: ${(((loaded[k] - idle[k]) * 1024) / n).toFixed(1)} KB per stream`);
    });
    const l = summarize(latency);
    console.log(`relay while loaded (same replica, ${l.n} calls): p50 ${fmt(l.p50)}  p99 ${fmt(l.p99)}`);
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    for (const r of replicas) {
      r.proc.kill('SIGKILL');
      r.h.cleanup();
    }
    await stats.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    await server.stop();
  }
  process.exit(0);
}

if (ROLE === '--sim-runners') {
  await simRunners(JSON.parse(process.argv[3]));
} else {
  await main();
}
