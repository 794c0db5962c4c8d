// Hub replicas on one PostgreSQL (issue 15): BENCH_REPLICAS (3) real hub replicas (peer service,
// cluster secret: ownership claimed per connect, heartbeats) and BENCH_STREAMS (5000) simulated
// runner streams spread evenly over them (10 per TCP connection), each retrying as a runner does
// (backoff with jitter, a busy hub's retry hint, the next address after a failure).
//  0. The connect storm: all streams connect at once; time until every one is online, connects
//     refused by the hubs' admission control, CPU of each replica and of PostgreSQL.
//  1. PostgreSQL statements per second at steady state (pg_stat_statements calls, and
//     pg_stat_database commits), once with alive messages at the real cadence (every 20 s) and
//     once at 20x that (every second): the goal is flat, independent of alive traffic.
//  2. Memory per stream on each replica (RSS loaded - RSS idle, over the streams it holds).
//  3. Relay latency (GetRunnerStatus to a machine whose stream is on the replica asked) while
//     loaded, against the same calls before the load (one stream per replica) in the same run.
//  4. The herd after a replica dies: kill -9 of the last replica; time until every one of its
//     streams is online again on the others; no machine left offline, none with two owners.
// Skipped with a message when PostgreSQL cannot run here (set BENCH_DATABASE_URL to use one).
import { fork, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import pg from 'pg';
import { ChannelCredentials, createChannel, createClient, Metadata } from 'nice-grpc';
import { HubServiceDefinition, MachineServiceDefinition } from '../dist/bench-support.mjs';
import { CLI, fmt, summarize, tempHome } from './lib.mjs';
import { startPg } from './fixtures/pg-cluster.mjs';
import { hello, queue } from './fixtures/runner-stream.mjs';
import { cpuSeconds, pgCpuSeconds, rssMb, scrape } from './fixtures/proc-stats.mjs';

const ROLE = process.argv[2];
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 20_000);

/** Child: `count` runner streams on one replica; alive every `aliveMs` spread evenly (changed by a message). */
async function simRunners({ urls, token, prefix, count, perChannel }) {
  const metadata = Metadata({ authorization: `Bearer ${token}` });
  /** Per address, channels of perChannel streams each, opened when first needed. */
  const channels = urls.map(() => []);
  const clientFor = (u, i) => {
    const slot = Math.floor(i / perChannel);
    channels[u][slot] ??= createChannel(new URL(urls[u]).host, ChannelCredentials.createInsecure());
    return createClient(MachineServiceDefinition, channels[u][slot]);
  };
  const queues = [];
  const welcomedOnce = new Set();
  /** After a mark (the herd after a replica died): the streams that were on its address, and those of them welcomed again since. */
  let moving;
  let rewelcomed;
  /** Which address each stream is on (index into urls). */
  const where = [];
  let retries = 0;
  /** Failed connects by gRPC status code (14 UNAVAILABLE, ...). */
  const errors = {};
  for (let i = 0; i < count; i++) {
    queues.push(undefined);
    where.push(0);
    // Like a runner (src/runner/hub-link/hub-addresses.ts, tryOrder): its first address, then the others in an order of its own.
    const order = [0, ...urls.slice(1).map((_, k) => k + 1).sort(() => Math.random() - 0.5)];
    let pos = 0;
    // Like a real runner: a refused or broken stream is opened again after a capped, jittered backoff.
    (async () => {
      for (let attempt = 0; ; attempt++) {
        const q = queue();
        queues[i] = q;
        q.push(hello(`${prefix}-${i}`));
        let pushback = 0;
        const onTrailer = (t) => (pushback = Number(t.get('grpc-retry-pushback-ms') ?? 0) || 0);
        try {
          for await (const msg of clientFor(where[i], i).connect(q, { metadata, onTrailer })) {
            if (msg.message?.$case === 'welcome') {
              attempt = 0;
              welcomedOnce.add(i);
              if (welcomedOnce.size === count && !moving) process.send({ type: 'ready', retries, errors });
              if (moving?.has(i) && (rewelcomed.add(i), rewelcomed.size === moving.size)) process.send({ type: 'rewelcomed', moved: moving.size, retries, errors });
            } else if (msg.message?.$case === 'rpcRequest') {
              q.push({ message: { $case: 'rpcResponse', value: { requestId: msg.message.value.requestId, result: { $case: 'getStatus', value: { pid: process.pid, cliVersion: 'bench', sessionCount: 0, startedAt: new Date() } } } } });
            }
          }
        } catch (err) {
          retries++;
          const code = err?.code ?? 'other';
          errors[code] = (errors[code] ?? 0) + 1;
        }
        // Like a runner with several hub addresses: the next one after a failure.
        pos = (pos + 1) % order.length;
        where[i] = order[pos];
        q.end();
        // The runner's backoff (src/shared/backoff.ts: 0.5 s doubling to 30 s, equal jitter), and
        // at least a busy hub's retry hint (hub-link.ts).
        const cap = Math.min(30_000, 500 * 2 ** attempt);
        await new Promise((r) => setTimeout(r, Math.max(pushback, cap / 2 + Math.random() * (cap / 2))));
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
    if (m.type === 'mark') {
      moving = new Set(where.flatMap((u, i) => (urls[u] === m.url ? [i] : [])));
      rewelcomed = new Set();
      if (moving.size === 0) process.send({ type: 'rewelcomed', moved: 0, retries: 0, errors: {} });
      retries = 0;
      for (const k of Object.keys(errors)) delete errors[k];
    }
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

async function startReplica(env, ownerToken) {
  // Real replicas: a peer service and the cluster secret (ownership claimed per connect, heartbeats).
  const h = tempHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_LOG_LEVEL: 'warn', HAPI_HUB_PEER_ADDR: '127.0.0.1:0', HAPI_HUB_CLUSTER_SECRET: 'bench-cluster-secret-0123456789', HAPI_HUB_METRICS_OPEN: '1', ...env });
  const proc = spawn(process.execPath, [CLI, 'hub'], { env: h.env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const deadline = Date.now() + 30_000;
  while (!/hub HTTP listening on/.test(out) || !/hub peer service listening on/.test(out) || (!ownerToken && !/owner token[^\n]*:\n\s+\S+/.test(out))) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`hub did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const http = /hub HTTP listening on (\S+)/.exec(out)[1];
  return { h, proc, http, replicaId: /\(replica (\S+);/.exec(out)?.[1], url: /hub gRPC listening on (\S+)/.exec(out)[1], token: ownerToken ?? /owner token[^\n]*:\n\s+(\S+)/.exec(out)[1] };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** GetRunnerStatus to machines whose stream is on the replica asked: `calls` per replica. */
async function relayLatency(replicas, token, machineOf, calls) {
  const latency = [];
  for (const [k, r] of replicas.entries()) {
    const ch = createChannel(new URL(r.url).host, ChannelCredentials.createInsecure());
    const hub = createClient(HubServiceDefinition, ch, { '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) } });
    // The first calls warm up (a new channel, code not yet optimised): not counted.
    for (let i = 0; i < 50 + calls; i++) {
      const s = performance.now();
      await hub.getRunnerStatus({ machineId: machineOf(k) });
      if (i >= 50) latency.push(performance.now() - s);
    }
    ch.close();
  }
  return summarize(latency);
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
  const out = { push: (line) => console.log(line) };
  try {
    for (let i = 0; i < REPLICAS; i++) replicas.push(await startReplica({ HAPI_HUB_DATABASE_URL: url }, replicas[0]?.token));
    const token = replicas[0].token;
    await sleep(1_000);
    const idle = replicas.map((r) => rssMb(r.proc.pid));
    const cpuNow = () => ({ hubs: replicas.map((r) => cpuSeconds(r.proc.pid)), pg: server.pid ? pgCpuSeconds(server.pid) : NaN, sims: sum(kids.map((k) => cpuSeconds(k.pid))) });

    // The floor: the same relayed calls with one stream per replica and nothing else going on.
    const floorSims = replicas.map((r, k) => child(['--sim-runners', JSON.stringify({ urls: [r.url], token, prefix: `u${k}`, count: 1, perChannel: 10 })]));
    await Promise.all(floorSims.map((s) => s.next('ready', 60_000)));
    const floor = await relayLatency(replicas, token, (k) => `u${k}-0`, 200);
    for (const s of floorSims) s.proc.kill('SIGKILL');

    // 0. The connect storm. Each replica's runners list every address, their own first.
    const per = Math.ceil(STREAMS / REPLICAS);
    const urls = replicas.map((r) => r.url);
    const cpu0 = cpuNow();
    const t0 = Date.now();
    const sims = replicas.map((r, k) =>
      child(['--sim-runners', JSON.stringify({ urls: [...urls.slice(k), ...urls.slice(0, k)], token, prefix: `r${k}`, count: Math.min(per, STREAMS - k * per), perChannel: 10 })]),
    );
    kids.push(...sims.map((s) => s.proc));
    const peak = { gateWaiting: 0, poolWaiting: 0 };
    let storming = true;
    const sampler = (async () => {
      while (storming) {
        for (const r of replicas) {
          const m = await scrape(r.http).catch(() => new Map());
          peak.gateWaiting = Math.max(peak.gateWaiting, m.get('hapi_hub_runner_connects{state="waiting"}') ?? 0);
          peak.poolWaiting = Math.max(peak.poolWaiting, m.get('hapi_hub_database_pool_connections{state="waiting"}') ?? 0);
        }
        await sleep(500);
      }
    })();
    const ready = await Promise.all(sims.map((s) => s.next('ready', 900_000)));
    const connectS = (Date.now() - t0) / 1000;
    storming = false;
    await sampler;
    const cpu1 = cpuNow();
    const retried = sum(ready.map((m) => m.retries));
    const codes = {};
    for (const m of ready) for (const [c, n] of Object.entries(m.errors)) codes[c] = (codes[c] ?? 0) + n;
    const gate = await Promise.all(replicas.map((r) => scrape(r.http)));
    const admitted = sum(gate.map((m) => m.get('hapi_hub_runner_connects_total{outcome="admitted"}') ?? 0));
    const refused = sum(gate.map((m) => m.get('hapi_hub_runner_connects_total{outcome="refused"}') ?? 0));
    out.push(`\n## ${REPLICAS} replicas, ${STREAMS} runner streams (10 per TCP connection), load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at start`);
    out.push(`connect storm: all ${STREAMS} online ${connectS.toFixed(1)} s after start (${(STREAMS / connectS).toFixed(0)} connects/s); ${admitted} connects admitted, ${refused} refused by admission control with a retry hint; runners retried ${retried} times (by gRPC code: ${JSON.stringify(codes)})`);
    out.push(`  peak waiting during the storm: ${peak.gateWaiting} connects queued for a turn on one replica, ${peak.poolWaiting} callers queued for a PostgreSQL connection on one replica`);
    const dHubs = cpu1.hubs.map((c, k) => c - cpu0.hubs[k]);
    out.push(`  CPU for the storm: replicas ${dHubs.map((c) => c.toFixed(1)).join(' + ')} s, PostgreSQL ${(cpu1.pg - cpu0.pg).toFixed(1)} s, simulated runners ${(cpu1.sims - cpu0.sims).toFixed(1)} s = ${((1000 * (sum(dHubs) + cpu1.pg - cpu0.pg)) / STREAMS).toFixed(2)} ms of hub + PostgreSQL CPU per connect`);

    // Let the storm settle: PostgreSQL's backends report their commit counts up to 10 s late.
    await sleep(12_000);
    const loaded = replicas.map((r) => rssMb(r.proc.pid));
    const held = (await Promise.all(replicas.map((r) => scrape(r.http)))).map((m) => m.get('hapi_hub_runner_streams{kind="connect"}') ?? 0);

    /** Statements (pg_stat_statements calls, without this bench's own), commits and CPU per second over the window. */
    async function measure() {
      const sample = async () => {
        const x = (await stats.query('SELECT xact_commit::bigint AS c FROM pg_stat_database WHERE datname = current_database()')).rows[0].c;
        const s = statements ? (await stats.query("SELECT COALESCE(SUM(calls), 0)::bigint AS n FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() AND s.query NOT ILIKE '%pg_stat%'")).rows[0].n : 0;
        return { commits: Number(x), statements: Number(s), cpu: cpuNow() };
      };
      const sent0 = await Promise.all(sims.map(async (s) => (s.proc.send({ type: 'count' }), (await s.next('count')).sent)));
      const a = await sample();
      const w0 = Date.now();
      await sleep(WINDOW_MS);
      const b = await sample();
      if (process.env.BENCH_VERBOSE) {
        const top = await stats.query("SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS q FROM pg_stat_statements ORDER BY calls DESC LIMIT 8");
        console.log(top.rows);
      }
      const secs = (Date.now() - w0) / 1000;
      const sent1 = await Promise.all(sims.map(async (s) => (s.proc.send({ type: 'count' }), (await s.next('count')).sent)));
      const alive = sum(sent1) - sum(sent0);
      return {
        alivePerS: alive / secs,
        statementsPerS: (b.statements - a.statements) / secs,
        // The two samples' own commits (two per sample) are not the hubs'.
        commitsPerS: Math.max(0, b.commits - a.commits - 2) / secs,
        hubCpu: (sum(b.cpu.hubs) - sum(a.cpu.hubs)) / secs,
        pgCpu: (b.cpu.pg - a.cpu.pg) / secs,
      };
    }

    const slow = await measure();
    for (const s of sims) s.proc.send({ type: 'cadence', aliveMs: 1_000 });
    await sleep(2_000);
    const fast = await measure();
    for (const s of sims) s.proc.send({ type: 'cadence', aliveMs: 20_000 });
    // Machines whose stream is on the replica asked (a runner refused by a busy replica moved on to another).
    const ownIds = [];
    for (const r of replicas) ownIds.push((await stats.query("SELECT id FROM machines WHERE online = 1 AND owner_replica = $1 AND id LIKE 'r%'", [r.replicaId])).rows.map((x) => x.id));
    const loadedLatency = await relayLatency(replicas, token, (k) => ownIds[k][Math.floor(Math.random() * ownIds[k].length)], 200);

    out.push(`PostgreSQL at steady state over ${WINDOW_MS / 1000} s windows (${statements ? 'pg_stat_statements calls' : 'pg_stat_statements unavailable'}; commits from pg_stat_database; CPU of all replicas and of PostgreSQL):`);
    for (const [label, w] of [['alive every 20 s', slow], ['alive every 1 s ', fast]]) {
      out.push(`  ${label} (${w.alivePerS.toFixed(0)} alive/s): ${w.statementsPerS.toFixed(2)} statements/s, ${w.commitsPerS.toFixed(2)} commits/s; replicas ${(100 * w.hubCpu).toFixed(1)} % CPU, PostgreSQL ${(100 * w.pgCpu).toFixed(1)} % CPU`);
    }
    replicas.forEach((r, k) => {
      out.push(`replica ${String.fromCharCode(65 + k)}: RSS ${idle[k].toFixed(0)} MB idle -> ${loaded[k].toFixed(0)} MB with ${held[k]} streams: ${(((loaded[k] - idle[k]) * 1024) / held[k]).toFixed(1)} KB per stream`);
    });
    out.push(`relay (GetRunnerStatus, same replica, ${floor.n} calls each): unloaded p50 ${fmt(floor.p50)} p99 ${fmt(floor.p99)}; loaded p50 ${fmt(loadedLatency.p50)} p99 ${fmt(loadedLatency.p99)} (x${(loadedLatency.p50 / floor.p50).toFixed(2)} p50, x${(loadedLatency.p99 / floor.p99).toFixed(2)} p99)`);

    // 4. The herd after a replica dies: its runners move to the others at once.
    if (REPLICAS > 1) {
      const k = REPLICAS - 1;
      const victim = replicas[k];
      const moved = held[k];
      for (const sim of sims) sim.proc.send({ type: 'mark', url: victim.url });
      await sleep(500);
      const cpuH0 = cpuNow();
      const th = Date.now();
      victim.proc.kill('SIGKILL');
      const agains = await Promise.all(sims.map((sim) => sim.next('rewelcomed', 300_000)));
      const again = { moved: sum(agains.map((a) => a.moved)), retries: sum(agains.map((a) => a.retries)), errors: {} };
      for (const a of agains) for (const [c, n] of Object.entries(a.errors)) again.errors[c] = (again.errors[c] ?? 0) + n;
      const herdS = (Date.now() - th) / 1000;
      const cpuH1 = cpuNow();
      const live = replicas.slice(0, k);
      // Every stream held by a live replica (some welcomed after the kill may have been dropped again since).
      let afterGate;
      for (const until = Date.now() + 120_000; ; await sleep(500)) {
        afterGate = await Promise.all(live.map((r) => scrape(r.http)));
        if (sum(afterGate.map((m) => m.get('hapi_hub_runner_streams{kind="connect"}') ?? 0)) >= STREAMS || Date.now() > until) break;
      }
      const allS = (Date.now() - th) / 1000;
      const refusedAfter = sum(afterGate.map((m) => m.get('hapi_hub_runner_connects_total{outcome="refused"}') ?? 0)) - sum(gate.slice(0, k).map((m) => m.get('hapi_hub_runner_connects_total{outcome="refused"}') ?? 0));
      const nowHeld = sum(afterGate.map((m) => m.get('hapi_hub_runner_streams{kind="connect"}') ?? 0));
      const online = (await stats.query('SELECT COUNT(*)::int AS n FROM machines WHERE online = 1')).rows[0].n;
      const ownedByDead = (await stats.query('SELECT COUNT(*)::int AS n FROM machines m WHERE online = 1 AND NOT EXISTS (SELECT 1 FROM hub_replicas r WHERE r.id = m.owner_replica AND r.id <> $1)', [victim.replicaId ?? ''])).rows[0].n;
      out.push(`kill -9 of replica ${String.fromCharCode(65 + k)} holding ${moved} streams (${again.moved} counted by the simulated runners): all online again on the others in ${herdS.toFixed(1)} s (goal < 10 s: ${herdS < 10 ? 'met' : 'NOT met'}); ${again.retries} retries (${JSON.stringify(again.errors)}), ${refusedAfter} refused with a retry hint; live replicas ${(sum(cpuH1.hubs.slice(0, k)) - sum(cpuH0.hubs.slice(0, k))).toFixed(1)} s CPU, PostgreSQL ${(cpuH1.pg - cpuH0.pg).toFixed(1)} s`);
      out.push(`  then: ${nowHeld} streams held by the ${k} live replicas ${allS.toFixed(1)} s after the kill, ${online} machines online in PostgreSQL, ${ownedByDead} online machines not owned by a live replica`);
    }
    out.push(`load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    for (const r of replicas) {
      r.proc.kill('SIGKILL');
      if (process.env.BENCH_KEEP_LOGS) console.log(`kept ${r.h.home} (hub logs)`);
      else r.h.cleanup();
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
