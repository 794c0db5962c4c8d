// Runner benchmarks: CLI cold start of `hapi runner status` against bare `node -e 0`, control
// calls over gRPC (Unix socket) against the HTTP gateway on the same runner, and the time
// `hapi runner stop` takes with a hub linked against the same stop without a hub.
import { spawn } from 'node:child_process';
import { request, Agent } from 'node:http';
import { createClient } from 'nice-grpc';
import { RunnerServiceDefinition } from '../dist/bench-support.mjs';
import { createUdsChannel } from '../dist/bench-support.mjs';
import { CLI, fmt, summarize, tempHome, timeCommand } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const STOP_RUNS = Number(process.env.BENCH_STOP_RUNS ?? 5);

/** Starts `hapi hub` in its own temporary home; resolves with its URL, owner token and a stop(). */
async function startHub() {
  const hh = tempHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_LOG_LEVEL: 'warn' });
  const hub = spawn(process.execPath, [CLI, 'hub'], { env: hh.env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  hub.stdout.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!/owner token[^\n]*:\n\s+\S+/.test(out)) {
    if (Date.now() > deadline) throw new Error(`hub did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: /hub gRPC listening on (\S+)/.exec(out)[1],
    token: /owner token[^\n]*:\n\s+(\S+)/.exec(out)[1],
    stop: () => hh.cleanup(),
  };
}

/** `hapi runner stop` wall time (the CLI waits until the runner process has exited), runner started untimed. */
async function timeStops(h, env) {
  const samples = [];
  for (let i = 0; i < STOP_RUNS; i++) {
    h.cli(['runner', 'start'], { env });
    // Linked: stop only once the hub link is up, so close() has a stream to end.
    while (env.CLI_API_TOKEN && JSON.parse(h.cli(['runner', 'status', '--json'], { env })).hubLink?.state !== 'connected') {
      await new Promise((r) => setTimeout(r, 20));
    }
    samples.push(await timeCommand(process.execPath, [CLI, 'runner', 'stop'], { ...h.env, ...env }));
  }
  return summarize(samples);
}

const h = tempHome();
try {
  h.cli(['runner', 'start']);
  const state = h.state();

  // Interleave the two commands so machine noise hits both alike.
  const bare = [];
  const status = [];
  for (let i = 0; i < 3; i++) {
    await timeCommand(process.execPath, ['-e', '0'], h.env);
    await timeCommand(process.execPath, [CLI, 'runner', 'status'], h.env);
  }
  for (let i = 0; i < RUNS; i++) {
    bare.push(await timeCommand(process.execPath, ['-e', '0'], h.env));
    status.push(await timeCommand(process.execPath, [CLI, 'runner', 'status'], h.env));
  }
  const b = summarize(bare);
  const s = summarize(status);
  console.log(`\n## hapi runner status cold start (${RUNS} runs, median)`);
  console.log(`node -e 0           p50 ${fmt(b.p50)}  p99 ${fmt(b.p99)}`);
  console.log(`hapi runner status  p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}`);
  console.log(`ratio (goal <= 1.5x): ${(s.p50 / b.p50).toFixed(2)}x`);

  // Control calls: gRPC ListSessions over the socket vs HTTP POST /list on the gateway.
  const channel = createUdsChannel(state.socketPath);
  const client = createClient(RunnerServiceDefinition, channel);
  const agent = new Agent({ keepAlive: true, maxSockets: 100 });
  const body = '{}';
  const httpCall = () =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: state.httpPort, path: '/list', method: 'POST', agent,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${state.controlToken}`, 'content-length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const grpcCall = () => client.listSessions({});

  async function sequential(fn) {
    for (let i = 0; i < 200; i++) await fn();
    const samples = [];
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const t = performance.now();
      await fn();
      samples.push(performance.now() - t);
    }
    return { ...summarize(samples), perSec: CALLS / ((performance.now() - t0) / 1000) };
  }
  async function inFlight(fn, width = 100) {
    const samples = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: width }, async () => {
      while (next++ < CALLS) {
        const t = performance.now();
        await fn();
        samples.push(performance.now() - t);
      }
    }));
    return { ...summarize(samples), perSec: CALLS / ((performance.now() - t0) / 1000) };
  }

  console.log(`\n## control calls (${CALLS} each): gRPC over the Unix socket vs HTTP gateway`);
  const rows = [
    ['gRPC sequential', await sequential(grpcCall)],
    ['HTTP sequential', await sequential(httpCall)],
    ['gRPC 100 in flight', await inFlight(grpcCall)],
    ['HTTP 100 in flight', await inFlight(httpCall)],
  ];
  for (const [name, r] of rows) console.log(`${name.padEnd(20)} p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  ${Math.round(r.perSec)} calls/s`);
  console.log(`gRPC/HTTP throughput ratio: sequential ${(rows[0][1].perSec / rows[1][1].perSec).toFixed(2)}x, 100 in flight ${(rows[2][1].perSec / rows[3][1].perSec).toFixed(2)}x`);
  channel.close();
  agent.destroy();
  h.cli(['runner', 'stop']);

  // Stop latency: the same runner stopped without a hub and linked to a real hub process.
  const hub = await startHub();
  try {
    const linked = { HAPI_API_URL: hub.url, CLI_API_TOKEN: hub.token };
    await timeStops(h, {});
    const alone = await timeStops(h, {});
    const withHub = await timeStops(h, linked);
    console.log(`\n## hapi runner stop (${STOP_RUNS} runs each, runner started untimed; goal <= 300 ms either way)`);
    console.log(`without a hub       p50 ${fmt(alone.p50)}  max ${fmt(alone.p99)}`);
    console.log(`linked to a hub     p50 ${fmt(withHub.p50)}  max ${fmt(withHub.p99)}`);
    console.log(`ratio linked/without: ${(withHub.p50 / alone.p50).toFixed(2)}x`);
  } finally {
    hub.stop();
  }
} finally {
  h.cleanup();
}
