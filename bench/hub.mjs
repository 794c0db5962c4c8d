// Hub benchmarks, against a real hub process (`node dist/hapi.cjs hub`):
//  1. relay round trips HubService.GetRunnerStatus -> runner stream -> answer -> caller
//     (sequential and 100 in flight), next to a raw bidi echo over the same transport (gRPC over
//     TCP, same messages, separate processes) in the same run, with the ratio;
//  2. fan-out: BENCH_STREAMS (default 5000) simulated runner streams, hello + alive at the real
//     20 s cadence (spread evenly): hub memory per stream, hub CPU, relay latency while loaded.
// Simulated runners and the echo server run in child processes of this same file.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ChannelCredentials, createChannel, createClient, createServer, Metadata } from 'nice-grpc';
import { HubServiceDefinition, MachineServiceDefinition } from '../dist/bench-support.mjs';
import { CLI, fmt, summarize, tempHome } from './lib.mjs';
import { hello, queue } from './fixtures/runner-stream.mjs';
import { spawn } from 'node:child_process';

const ROLE = process.argv[2];

/** Child: open `count` runner streams (`perChannel` per TCP connection), answer getStatus, alive every 20 s. */
async function simRunners({ url, token, prefix, count, perChannel, aliveMs }) {
  const target = new URL(url).host;
  const metadata = Metadata({ authorization: `Bearer ${token}` });
  let channel;
  let welcomed = 0;
  const queues = [];
  for (let i = 0; i < count; i++) {
    if (i % perChannel === 0) channel = createChannel(target, ChannelCredentials.createInsecure());
    const client = createClient(MachineServiceDefinition, channel);
    const q = queue();
    queues.push(q);
    q.push(hello(`${prefix}-${i}`));
    (async () => {
      for await (const msg of client.connect(q, { metadata })) {
        if (msg.message?.$case === 'welcome') {
          welcomed++;
          if (welcomed === count) process.send({ type: 'ready' });
        } else if (msg.message?.$case === 'rpcRequest') {
          q.push({ message: { $case: 'rpcResponse', value: { requestId: msg.message.value.requestId, result: { $case: 'getStatus', value: { pid: process.pid, cliVersion: 'bench', sessionCount: 0, startedAt: new Date() } } } } });
        }
      }
    })().catch((err) => process.send({ type: 'error', message: String(err) }));
  }
  // Alive at the real cadence, spread evenly over the period.
  let next = 0;
  const tick = Math.max(1, Math.floor(aliveMs / count));
  setInterval(() => {
    const batch = Math.max(1, Math.ceil(count / (aliveMs / tick)));
    for (let k = 0; k < batch; k++) {
      queues[next % count].push({ message: { $case: 'alive', value: { time: new Date() } } });
      next++;
    }
  }, tick);
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
    // Not used by the echo; nice-grpc wants every method of the service implemented.
    async *attachStream() {},
  });
  const port = await server.listen('127.0.0.1:0');
  process.send({ type: 'port', port });
}

if (ROLE === '--sim-runners') {
  await simRunners(JSON.parse(process.argv[3]));
} else if (ROLE === '--echo-server') {
  await echoServer();
} else {
  await main();
}

function child(args) {
  const c = fork(import.meta.filename, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages = [];
  const waiters = [];
  c.on('message', (m) => {
    if (m.type === 'error') console.error(`child error: ${m.message}`);
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  return {
    proc: c,
    async next(type, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = messages.findIndex((m) => m.type === type);
        if (i >= 0) return messages.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`child did not report ${type}`);
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 500);
        });
      }
    },
  };
}

function procStat(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return { rssMb: rssKb / 1024, cpuMs: (ticks * 1000) / 100 };
}

async function timed(n, fn) {
  const samples = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn(i);
    samples.push(performance.now() - s);
  }
  return { ...summarize(samples), perSec: n / ((performance.now() - t0) / 1000) };
}

async function inFlight(n, width, fn) {
  let i = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < n) {
        i++;
        await fn();
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function main() {
  const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
  const STREAMS = Number(process.env.BENCH_STREAMS ?? 5000);
  const h = tempHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_LOG_LEVEL: 'warn' });
  const kids = [];
  try {
    const hub = spawn(process.execPath, [CLI, 'hub'], { env: h.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    hub.stdout.on('data', (d) => (out += d));
    const deadline = Date.now() + 20_000;
    while (!/owner token[^\n]*:\n\s+\S+/.test(out)) {
      if (Date.now() > deadline) throw new Error(`hub did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /hub gRPC listening on (\S+)/.exec(out)[1];
    const token = /owner token[^\n]*:\n\s+(\S+)/.exec(out)[1];
    const channel = createChannel(new URL(url).host, ChannelCredentials.createInsecure());
    const hubClient = createClient(HubServiceDefinition, channel, { '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) } });

    // 1. relay vs raw echo, one simulated runner in its own process.
    const one = child(['--sim-runners', JSON.stringify({ url, token, prefix: 'relay', count: 1, perChannel: 1, aliveMs: 20_000 })]);
    kids.push(one.proc);
    await one.next('ready');
    const echo = child(['--echo-server']);
    kids.push(echo.proc);
    const { port } = await echo.next('port');
    const echoChannel = createChannel(`127.0.0.1:${port}`, ChannelCredentials.createInsecure());
    const echoClient = createClient(MachineServiceDefinition, echoChannel);
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
    const relayOnce = () => hubClient.getRunnerStatus({ machineId: 'relay-0' });
    for (let i = 0; i < 200; i++) {
      await relayOnce();
      await echoOnce();
    }
    const relay = await timed(CALLS, relayOnce);
    const raw = await timed(CALLS, echoOnce);
    const relay100 = await inFlight(CALLS * 2, 100, relayOnce);
    const raw100 = await inFlight(CALLS * 2, 100, echoOnce);
    console.log(`\n## relay round trip (GetRunnerStatus: caller -> hub -> runner stream -> hub -> caller), ${CALLS} sequential`);
    console.log(`relay     p50 ${fmt(relay.p50)}  p99 ${fmt(relay.p99)}  ${relay.perSec.toFixed(0)}/s sequential  ${relay100.toFixed(0)}/s with 100 in flight`);
    console.log(`raw echo  p50 ${fmt(raw.p50)}  p99 ${fmt(raw.p99)}  ${raw.perSec.toFixed(0)}/s sequential  ${raw100.toFixed(0)}/s with 100 in flight`);
    console.log(`ratio relay/raw p50: ${(relay.p50 / raw.p50).toFixed(2)}x  (a relay is a unary call plus a stream round trip)`);
    echoChannel.close();
    eq.end();

    // 2. fan-out.
    const hubPid = hub.pid;
    await new Promise((r) => setTimeout(r, 500));
    const base = procStat(hubPid);
    const per = Math.ceil(STREAMS / 2);
    const t0 = Date.now();
    const fans = [0, 1].map((k) =>
      child(['--sim-runners', JSON.stringify({ url, token, prefix: `fan${k}`, count: Math.min(per, STREAMS - k * per), perChannel: 10, aliveMs: 20_000 })]),
    );
    kids.push(...fans.map((f) => f.proc));
    await Promise.all(fans.map((f) => f.next('ready', 300_000)));
    const connectMs = Date.now() - t0;
    const loaded = procStat(hubPid);
    const list = await hubClient.listMachines({});
    const online = list.machines.filter((m) => m.online).length;
    // One full alive period at the real cadence.
    const c0 = procStat(hubPid);
    const w0 = Date.now();
    const latency = [];
    while (Date.now() - w0 < 20_000) {
      const id = `fan${latency.length % 2}-${Math.floor(Math.random() * (per - 1))}`;
      const s = performance.now();
      await hubClient.getRunnerStatus({ machineId: id });
      latency.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 20));
    }
    const c1 = procStat(hubPid);
    const l = summarize(latency);
    const stillOnline = (await hubClient.listMachines({})).machines.filter((m) => m.online).length;
    console.log(`\n## fan-out: ${STREAMS} runner streams (10 per TCP connection), alive every 20 s`);
    console.log(`connected ${online}/${STREAMS} in ${(connectMs / 1000).toFixed(1)} s; online after one alive period: ${stillOnline}`);
    console.log(`hub RSS ${base.rssMb.toFixed(0)} MB idle -> ${loaded.rssMb.toFixed(0)} MB loaded: ${(((loaded.rssMb - base.rssMb) * 1024) / STREAMS).toFixed(1)} KB per stream`);
    console.log(`hub CPU over one 20 s alive period: ${(((c1.cpuMs - c0.cpuMs) / (Date.now() - w0)) * 100).toFixed(1)}% of one core`);
    console.log(`relay while loaded (random machine, ${l.n} calls): p50 ${fmt(l.p50)}  p99 ${fmt(l.p99)}`);
    channel.close();
    hub.kill('SIGTERM');
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    h.cleanup();
  }
  process.exit(0);
}
