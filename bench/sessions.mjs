// Session benchmarks against the built CLI and a real runner:
// 1. spawn latency (gRPC SpawnSession until the session has reported itself) over 50 spawns,
//    against the floor of spawning a bare `node` that signals readiness over a Unix socket,
//    measured interleaved in the same run;
// 2. `hapi runner list` wall time with 1,000 tracked sessions against 0;
// 3. the same with every one of them a live terminal (a socket answering GetInfo), which the
//    runner asks for viewers and last output: the list must not wait for 1,000 calls in a row.
// Env: BENCH_SPAWNS (50), BENCH_SESSIONS (1000), BENCH_RUNS (15).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { createClient, createServer as createGrpcServer } from 'nice-grpc';
import { RunnerServiceDefinition, SessionServiceDefinition, createUdsChannel } from '../dist/bench-support.mjs';
import { CLI, ROOT, fmt, summarize, tempHome, timeCommand } from './lib.mjs';

const SPAWNS = Number(process.env.BENCH_SPAWNS ?? 50);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const FIXTURE_AGENT = join(ROOT, 'test', 'fixtures', 'agent.mjs');
// Proto enum values (hapi.common.v1.StartedBy), kept literal: bench-support exports only the service.
const STARTED_BY_TERMINAL = 2;

const h = tempHome({
  HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}`,
  HAPI_RUNNER_MAX_SESSIONS: String(SESSIONS + SPAWNS + 10),
  HAPI_LOG_LEVEL: 'info',
});
const extra = [];
let channel;
try {
  h.cli(['runner', 'start']);
  const state = h.state();
  channel = createUdsChannel(state.socketPath);
  const client = createClient(RunnerServiceDefinition, channel);

  // ---- 1. spawn latency vs a bare node process that says "ready" over a Unix socket.
  const readySock = join(h.home, 'ready.sock');
  let onReady;
  const server = createServer((s) => s.once('data', () => onReady?.()));
  await new Promise((r) => server.listen(readySock, r));
  const readyScript = `require('node:net').connect(${JSON.stringify(readySock)}, function () { this.end('ready'); })`;
  const bareNode = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      onReady = () => resolve(performance.now() - t0);
      const child = spawn(process.execPath, ['-e', readyScript], { env: h.env, detached: true, stdio: 'ignore' });
      child.on('error', reject);
      child.unref();
    });
  const spec = { directory: h.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] };
  const spawnSession = async () => {
    const t0 = performance.now();
    const r = await client.spawnSession({ spec });
    const ms = performance.now() - t0;
    if (r.outcome?.result?.$case !== 'session') throw new Error(`spawn did not return a session: ${JSON.stringify(r)}`);
    return { ms, id: r.outcome.result.value.id };
  };

  // Warm up both paths (file cache, the runner's JIT), then interleave so noise hits both alike.
  for (let i = 0; i < 3; i++) {
    await bareNode();
    const s = await spawnSession();
    await client.stopSession({ target: { $case: 'sessionId', value: s.id } });
  }
  const floor = [];
  const spawnMs = [];
  const ids = [];
  for (let i = 0; i < SPAWNS; i++) {
    floor.push(await bareNode());
    const s = await spawnSession();
    spawnMs.push(s.ms);
    ids.push(s.id);
  }
  server.close();
  const f = summarize(floor);
  const sp = summarize(spawnMs);
  console.log(`\n## spawn latency (${SPAWNS} sequential spawns; session = CLI process + fixture agent + gRPC report)`);
  console.log(`bare node + ready   p50 ${fmt(f.p50)}  p99 ${fmt(f.p99)}`);
  console.log(`SpawnSession        p50 ${fmt(sp.p50)}  p99 ${fmt(sp.p99)}`);
  console.log(`ratio p50: ${(sp.p50 / f.p50).toFixed(2)}x   p99: ${(sp.p99 / f.p99).toFixed(2)}x`);
  const t0 = performance.now();
  await Promise.all(ids.map((id) => client.stopSession({ target: { $case: 'sessionId', value: id } })));
  console.log(`stopping ${ids.length} sessions concurrently: ${fmt(performance.now() - t0)}`);

  // ---- 2. `hapi runner list` with 0 vs SESSIONS tracked sessions.
  const listArgs = [CLI, 'runner', 'list'];
  for (let i = 0; i < 3; i++) await timeCommand(process.execPath, listArgs, h.env);
  const empty = [];
  for (let i = 0; i < RUNS; i++) empty.push(await timeCommand(process.execPath, listArgs, h.env));

  // Real sessions are two node processes each (~80 MB); a thousand of those do not fit on a
  // small machine. The runner's work per tracked session is the same whatever the process
  // is, so the sessions here are small shell processes that report themselves as terminal
  // sessions over the real SessionStarted RPC, exactly as `hapi` in a terminal does. The
  // runner accepts a report only from a process of its HAPI_HOME that names the session id
  // (session-process.ts), so each carries `--hapi-session-id <id>` on its command line.
  const tReg = performance.now();
  for (let i = 0; i < SESSIONS; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(i + 100, SESSIONS); j++) {
      const child = spawn('sh', ['-c', 'sleep 3600; :', 'sh', '--hapi-session-id', `bench-${j}`], { env: h.env, detached: true, stdio: 'ignore' });
      child.unref();
      extra.push(child.pid);
      batch.push(
        client.sessionStarted({
          sessionId: `bench-${j}`,
          metadata: { hostPid: child.pid, startedBy: STARTED_BY_TERMINAL, directory: h.home, agent: 'claude', startedAt: new Date() },
        }),
      );
    }
    await Promise.all(batch);
  }
  const regMs = performance.now() - tReg;
  const listed = (await client.listSessions({})).sessions.length;
  if (listed !== SESSIONS) throw new Error(`expected ${SESSIONS} tracked sessions, the runner lists ${listed}`);
  console.log(`\nregistered ${SESSIONS} sessions (SessionStarted, 100 in flight; registry rewritten on each): ${fmt(regMs)}`);

  for (let i = 0; i < 3; i++) await timeCommand(process.execPath, listArgs, h.env);
  const full = [];
  for (let i = 0; i < RUNS; i++) full.push(await timeCommand(process.execPath, listArgs, h.env));
  const e = summarize(empty);
  const l = summarize(full);
  const grpcList = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await client.listSessions({});
    grpcList.push(performance.now() - t);
  }
  const g = summarize(grpcList);
  console.log(`\n## hapi runner list wall time (${RUNS} runs)`);
  console.log(`0 sessions      p50 ${fmt(e.p50)}  p99 ${fmt(e.p99)}`);
  console.log(`${SESSIONS} sessions   p50 ${fmt(l.p50)}  p99 ${fmt(l.p99)}`);
  console.log(`ratio p50: ${(l.p50 / e.p50).toFixed(2)}x`);
  console.log(`(ListSessions RPC alone with ${SESSIONS} sessions: p50 ${fmt(g.p50)}  p99 ${fmt(g.p99)})`);

  // ---- 3. every session a live terminal: one server here answers GetInfo on each session's socket.
  let infoCalls = 0;
  const unused = async () => {
    throw new Error('not in this benchmark');
  };
  // Every method of SessionService (nice-grpc refuses a service with one missing); only GetInfo is asked.
  const terminalService = {
    ...Object.fromEntries(Object.keys(SessionServiceDefinition.methods).map((name) => [name, unused])),
    async getInfo() {
      infoCalls++;
      return { id: '', agent: 'claude', directory: h.home, cols: 120, rows: 40, startedBy: 'terminal', pid: 1, viewers: 1, lastOutputAt: new Date(), protocolVersion: 1, outputOffset: 0 };
    },
  };
  mkdirSync(join(h.home, 'sessions'), { recursive: true, mode: 0o700 });
  // One server per socket (a nice-grpc server listens once), all in this process.
  const terminals = [];
  for (let j = 0; j < SESSIONS; j++) {
    const server = createGrpcServer();
    server.add(SessionServiceDefinition, terminalService);
    await server.listen(`unix://${join(h.home, 'sessions', `bench-${j}.sock`)}`);
    terminals.push(server);
  }
  const check = await client.listSessions({});
  await new Promise((r) => setTimeout(r, 1100));
  const attachable = Object.values((await client.listSessions({})).terminals).filter((t) => t.attachable).length;
  console.log(`\n## hapi runner list with ${SESSIONS} live terminals (${attachable} attachable after the first list; ${check.sessions.length} listed)`);
  for (let i = 0; i < 3; i++) await timeCommand(process.execPath, listArgs, h.env);
  const live = [];
  for (let i = 0; i < RUNS; i++) live.push(await timeCommand(process.execPath, listArgs, h.env));
  // Every figure stale (older than the runner's 1 s freshness): the list asks all sessions.
  const stale = [];
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 1100));
    const t = performance.now();
    await client.listSessions({});
    stale.push(performance.now() - t);
  }
  const lv = summarize(live);
  const st = summarize(stale);
  console.log(`hapi runner list  p50 ${fmt(lv.p50)}  p99 ${fmt(lv.p99)}   ratio p50 vs 0 sessions: ${(lv.p50 / e.p50).toFixed(2)}x`);
  console.log(`ListSessions RPC, all ${SESSIONS} figures stale: p50 ${fmt(st.p50)}  p99 ${fmt(st.p99)}  (${infoCalls} GetInfo calls answered in all)`);
  for (const server of terminals) server.forceShutdown();
} finally {
  channel?.close();
  try {
    h.cli(['runner', 'stop']);
  } catch {
    // cleanup below kills whatever is left
  }
  for (const pid of extra) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  h.cleanup();
}
