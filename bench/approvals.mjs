// Approval round trips over loopback with a real hub, runner and session (issue 13):
//  1. hook -> hub watch: from the moment the agent runs its PermissionRequest hook
//     (`hapi hook permission-request`, a new process as Claude Code starts it) to the request
//     showing on a HubService.WatchSessions stream (hook process start, session, runner, hub);
//  2. approve -> hook returns: from a HubService.DecideApproval call to the waiting hook printing
//     its decision and exiting (hub -> runner -> session -> hook);
// next to a floor measured in the same run: a bare grpc-js unary call (TCP loopback, separate
// server process), and the hook's own process start (`hapi hook` with nothing to tell).
// BENCH_ROUNDS (default 40).
import { fork, spawn } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ChannelCredentials, createChannel, createClient, Metadata } from 'nice-grpc';
import { HubServiceDefinition, sessionSocketPathFor } from '../dist/bench-support.mjs';
import { CLI, ROOT, fmt, summarize, tempHome, timeCommand } from './lib.mjs';

const ECHO = { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };

if (process.argv[2] === '--echo-server') {
  const server = new grpc.Server();
  server.addService({ echo: ECHO }, { echo: (call, cb) => cb(null, call.request) });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => process.send({ port }));
} else {
  await main();
}

function waitUntil(check, ms, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => {
      const v = check();
      if (v) return resolve(v);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

async function floorUnary(port, n) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = () => new Promise((r, j) => client.makeUnaryRequest(ECHO.path, (b) => b, (b) => b, Buffer.from('x'.repeat(64)), (e, v) => (e ? j(e) : r(v))));
  for (let i = 0; i < 50; i++) await call();
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    samples.push(performance.now() - t0);
  }
  client.close();
  return summarize(samples);
}

async function main() {
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
  const hubHome = tempHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_LOG_LEVEL: 'warn' });
  let runnerHome;
  const kids = [];
  try {
    const hub = spawn(process.execPath, [CLI, 'hub'], { env: hubHome.env, stdio: ['ignore', 'pipe', 'inherit'] });
    kids.push(hub);
    let out = '';
    hub.stdout.on('data', (d) => (out += d));
    await waitUntil(() => /owner token[^\n]*:\n\s+\S+/.test(out), 20_000, 'the hub');
    const url = /hub gRPC listening on (\S+)/.exec(out)[1];
    const token = /owner token[^\n]*:\n\s+(\S+)/.exec(out)[1];
    runnerHome = tempHome({ HAPI_API_URL: url, CLI_API_TOKEN: token, HAPI_AGENT_PLAIN_COMMAND: `${process.execPath} ${join(ROOT, 'test', 'fixtures', 'tui-agent.mjs')}`, HAPI_LOG_LEVEL: 'warn', ...(process.env.HAPI_SESSION_CPU_NICE ? { HAPI_SESSION_CPU_NICE: process.env.HAPI_SESSION_CPU_NICE } : {}) });
    runnerHome.cli(['runner', 'start']);
    const channel = createChannel(new URL(url).host, ChannelCredentials.createInsecure());
    const hubClient = createClient(HubServiceDefinition, channel, { '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) } });
    const machineId = await (async () => {
      for (let i = 0; i < 400; i++) {
        const m = (await hubClient.listMachines({})).machines.find((x) => x.online);
        if (m) return m.id;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('the runner did not link');
    })();
    const spawned = await hubClient.spawnSession({ machineId, spec: { directory: runnerHome.home, agent: 'plain', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } });
    const sessionId = spawned.outcome.result.value.id;
    // The session's socket, derived as the session derives it.
    const sock = sessionSocketPathFor(runnerHome.home, sessionId, runnerHome.env);

    // Watch stream: remember when each request id first shows.
    const seen = new Map();
    const watching = new AbortController();
    void (async () => {
      try {
        for await (const e of hubClient.watchSessions({ machineId }, { signal: watching.signal })) {
          for (const r of e.session?.activity?.requests ?? []) if (!seen.has(r.id)) seen.set(r.id, performance.now());
        }
      } catch {}
    })();

    const hookEnv = { ...runnerHome.env, HAPI_SESSION_SOCKET: sock };
    const input = JSON.stringify({ session_id: 'bench', hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'ls', description: 'list' } });
    const toWatch = [];
    const toHook = [];
    const rpc = [];
    for (let i = 0; i < ROUNDS + 3; i++) {
      const before = new Set(seen.keys());
      const t0 = performance.now();
      const hook = spawn(process.execPath, [CLI, 'hook', 'permission-request'], { env: hookEnv, stdio: ['pipe', 'pipe', 'inherit'] });
      let stdout = '';
      hook.stdout.on('data', (d) => (stdout += d));
      const exited = new Promise((r) => hook.on('exit', () => r(performance.now())));
      hook.stdin.end(input);
      const requestId = await waitUntil(() => [...seen.keys()].find((k) => !before.has(k)), 20_000, 'the request on the watch stream');
      const shown = seen.get(requestId);
      const t1 = performance.now();
      await hubClient.decideApproval({ machineId, sessionId, requestId, decision: 1, message: '', origin: 3 });
      const answered = performance.now();
      const done = await exited;
      if (!/"behavior":"allow"/.test(stdout)) throw new Error(`the hook printed ${JSON.stringify(stdout)}`);
      if (i >= 3) {
        toWatch.push(shown - t0);
        toHook.push(done - t1);
        rpc.push(answered - t1);
      }
    }
    watching.abort();

    // Floors.
    const echo = fork(import.meta.filename, ['--echo-server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    kids.push(echo);
    const { port } = await new Promise((r) => echo.once('message', r));
    const unary = await floorUnary(port, 500);
    // The hub's relay to this runner alone (no session): GetRunnerStatus.
    const relayed = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await hubClient.getRunnerStatus({ machineId });
      if (i >= 20) relayed.push(performance.now() - t0);
    }
    const relay = summarize(relayed);
    const hookStart = [];
    for (let i = 0; i < 15; i++) hookStart.push(await timeCommand(process.execPath, [CLI, 'hook', 'stop'], { ...runnerHome.env, HAPI_SESSION_SOCKET: '' }));
    const start = summarize(hookStart.slice(3));
    const w = summarize(toWatch);
    const h = summarize(toHook);
    const d = summarize(rpc);
    console.log(`rounds: ${toWatch.length} (after 3 warm-up), loopback, 2-core machine`);
    console.log(`floor: bare grpc-js unary call (TCP loopback)      p50 ${fmt(unary.p50)}  p99 ${fmt(unary.p99)}`);
    console.log(`floor: relayed GetRunnerStatus (hub->runner->hub) p50 ${fmt(relay.p50)}  p99 ${fmt(relay.p99)}`);
    console.log(`floor: hapi hook process start (nothing to tell)   p50 ${fmt(start.p50)}  p99 ${fmt(start.p99)}`);
    console.log(`hook call -> request on the hub's watch stream     p50 ${fmt(w.p50)}  p99 ${fmt(w.p99)}  (${(w.p50 / unary.p50).toFixed(0)}x the unary floor; ${fmt(w.p50 - start.p50)} past the hook's own start)`);
    console.log(`DecideApproval -> the hook returns its decision    p50 ${fmt(h.p50)}  p99 ${fmt(h.p99)}  (${(h.p50 / unary.p50).toFixed(1)}x the unary floor)`);
    console.log(`  of which the DecideApproval call itself          p50 ${fmt(d.p50)}  p99 ${fmt(d.p99)}  (${(d.p50 / unary.p50).toFixed(1)}x; the rest is the hook printing and its process exiting)`);
    channel.close();
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    try {
      runnerHome?.cli(['runner', 'stop']);
    } catch {}
    runnerHome?.cleanup();
    hubHome.cleanup();
  }
}

