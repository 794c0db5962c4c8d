// Live terminals through the hub, against a real hub, runner and sessions (floors measured in
// the same run):
//  1. keystroke echo: a WebSocket viewer -> hub -> runner -> session -> agent and back, p50/p99,
//     next to the local attach (SessionService.Attach on the session's socket) and the bare PTY;
//  2. throughput: 100 MB (BENCH_FLOOD_MB) from the fixture to one WebSocket viewer that keeps up,
//     every byte in order and no snapshot after the first (else the figure does not count),
//     against the bare PTY; hub CPU per MB relayed;
//  3. hub memory per attached viewer (BENCH_VIEWERS idle WebSocket viewers);
//  4. control latency: relayed GetRunnerStatus p99 while BENCH_STREAMING (20) sessions each
//     stream 200 KB/s to a WebSocket viewer, against the same sessions with no output.
import { writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ChannelCredentials, createChannel, createClient, Metadata } from 'nice-grpc';
import WebSocket from 'ws';
import pty from 'node-pty';
import { HubServiceDefinition, SessionServiceDefinition, createUdsChannel } from '../dist/bench-support.mjs';
import { CLI, ROOT, fmt, summarize, tempHome } from './lib.mjs';

const TUI = join(ROOT, 'test', 'fixtures', 'tui-agent.mjs');
const STREAM = join(ROOT, 'bench', 'fixtures', 'stream-agent.mjs');
const FLOOD_MB = Number(process.env.BENCH_FLOOD_MB ?? 100);
const ECHOES = Number(process.env.BENCH_ECHOES ?? 200);
const VIEWERS = Number(process.env.BENCH_VIEWERS ?? 50);
const STREAMING = Number(process.env.BENCH_STREAMING ?? 20);
// BENCH_PARTS=1,4 runs only those parts (while profiling); BENCH_GRACEFUL=1 ends every process with
// SIGTERM first, so that profiles get written. BENCH_PROFILE_DIR=<dir> runs the hub and the runner
// (in the foreground: `runner start-sync`) with --cpu-prof into that directory (Node 20 does not
// take --cpu-prof from NODE_OPTIONS) and implies BENCH_GRACEFUL.
const PARTS = new Set((process.env.BENCH_PARTS ?? '1,2,3,4').split(',').map(Number));
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const profiling = (name) => (PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}.cpuprofile`] : []);
const until = async (check, ms = 30_000, what = 'condition') => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
};
/** Pids of the processes run under HAPI_HOME `home` whose command line matches `re`. */
const pidsOf = (home, re) =>
  readdirSync('/proc').filter((e) => {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) return false;
    try {
      return readFileSync(`/proc/${e}/environ`, 'utf8').split('\0').includes(`HAPI_HOME=${home}`) && re.test(readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      return false;
    }
  }).map(Number);
const cpuOf = (pids) => pids.reduce((a, p) => {
  try {
    return a + cpuMs(p);
  } catch {
    return a;
  }
}, 0);
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

// ---------------------------------------------------------------- setup: hub, runner, sessions
const hubHome = tempHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0' });
const runnerHome = tempHome();
const cleanups = [() => hubHome.cleanup(), () => runnerHome.cleanup()];
process.on('exit', () => cleanups.forEach((c) => c()));
const hubProc = spawn(process.execPath, [...profiling('hub'), CLI, 'hub'], { env: hubHome.env, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
hubProc.stdout.on('data', (d) => (out += d));
await until(() => /hub HTTP listening on/.test(out) && /owner token[^\n]*:\n\s+\S+/.test(out), 20_000, 'the hub');
const grpcUrl = /hub gRPC listening on (\S+)/.exec(out)[1];
const httpUrl = /hub HTTP listening on (\S+)/.exec(out)[1];
const token = /owner token[^\n]*:\n\s+(\S+)/.exec(out)[1];
const hubPid = hubProc.pid;
const hub = createClient(HubServiceDefinition, createChannel(new URL(grpcUrl).host, ChannelCredentials.createInsecure()), { '*': { metadata: Metadata({ authorization: `Bearer ${token}` }) } });

writeFileSync(join(runnerHome.home, 'settings.json'), JSON.stringify({ agents: { stream: { command: process.execPath, args: [STREAM] } } }));
const runnerEnv = { HAPI_API_URL: grpcUrl, CLI_API_TOKEN: token, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${TUI}` };
if (PROFILE_DIR) {
  spawn(process.execPath, [...profiling('runner'), CLI, 'runner', 'start-sync'], { env: { ...runnerHome.env, ...runnerEnv }, stdio: 'ignore', detached: true }).unref();
} else {
  runnerHome.cli(['runner', 'start'], { env: runnerEnv });
}
const machineId = await until(async () => (await hub.listMachines({})).machines.find((m) => m.online)?.id, 20_000, 'the machine');
async function spawnSession(agent, agentArgs) {
  const r = await hub.spawnSession({ machineId, spec: { directory: runnerHome.home, agent, sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs } });
  return r.outcome.result.value.id;
}

/** A WebSocket viewer with a bearer token (a tool; the page uses its cookie). */
function viewer(sessionId, mode = 'interactive') {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/api/v1/machines/${machineId}/sessions/${sessionId}/attach`, { headers: { authorization: `Bearer ${token}` } });
  const v = { ws, bytes: 0, frames: 0, snapshots: 0, next: undefined, inOrder: true, tail: '', onData: undefined, open: new Promise((r) => ws.on('open', r)) };
  ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', mode, cols: 120, rows: 40 })));
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      const m = JSON.parse(data.toString());
      if (m.type === 'snapshot') {
        v.snapshots++;
        v.next = Number(m.offset);
        v.screen = m.screen;
      }
      return;
    }
    const offset = Number(data.readBigUInt64BE(0));
    if (offset !== v.next) v.inOrder = false;
    v.next = offset + data.length - 8;
    v.bytes += data.length - 8;
    v.frames++;
    v.tail = (v.tail + data.subarray(Math.max(8, data.length - 64)).toString('latin1')).slice(-64);
    v.onData?.(data);
  });
  return v;
}

/**
 * Round trips of one key through `send`, each ending the moment `got "k"` shows in what `listen`
 * hands over (event-driven: a polling wait would add up to its own interval to every sample).
 */
async function echoes(send, listen, n = ECHOES) {
  const samples = [];
  let seen = '';
  let want;
  let arrived;
  listen((chunk) => {
    seen = (seen + chunk).slice(-256);
    if (want !== undefined && seen.includes(want)) {
      want = undefined;
      arrived();
    }
  });
  for (let i = 0; i < n; i++) {
    const k = String.fromCharCode(97 + (i % 26));
    seen = '';
    want = `got "${k}"`;
    let timer;
    const echoed = new Promise((resolve, reject) => {
      arrived = resolve;
      timer = setTimeout(() => reject(new Error(`no echo of key ${i}; last output seen: ${JSON.stringify(seen)}`)), 10_000);
    });
    const t0 = process.hrtime.bigint();
    send(k);
    await echoed.finally(() => clearTimeout(timer));
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return summarize(samples);
}

function barePty(args) {
  return pty.spawn(process.execPath, [TUI, ...args], { name: 'xterm-256color', cols: 120, rows: 40, env: process.env });
}

// ---------------------------------------------------------------- 1. keystroke echo
const echoSession = await spawnSession('', []);
if (PARTS.has(1)) {
const ev = viewer(echoSession);
await until(() => ev.snapshots > 0, 20_000, 'the snapshot');
const hubEcho = await echoes((k) => ev.ws.send(Buffer.from(k)), (fn) => (ev.onData = (d) => fn(d.subarray(8).toString('latin1'))));
ev.ws.close();

const sock = join(runnerHome.home, 'sessions', `${echoSession}.sock`);
const local = createClient(SessionServiceDefinition, createUdsChannel(sock));
const localIn = [];
let wakeLocal;
async function* localRequests() {
  yield { kind: { $case: 'hello', value: { mode: 1, cols: 0, rows: 0 } } };
  for (;;) {
    while (localIn.length) yield localIn.shift();
    await new Promise((r) => (wakeLocal = r));
  }
}
let onLocal = () => undefined;
const localAbort = new AbortController();
let localSnapshot = false;
void (async () => {
  try {
    for await (const r of local.attach(localRequests(), { signal: localAbort.signal })) {
      if (r.kind?.$case === 'snapshot') localSnapshot = true;
      if (r.kind?.$case === 'output') onLocal(Buffer.from(r.kind.value.data).toString('latin1'));
    }
  } catch (err) {
    if (!localAbort.signal.aborted) console.error('local attach failed:', err.message);
  }
})();
await until(() => localSnapshot, 20_000, 'the local snapshot');
const localEcho = await echoes((k) => {
  localIn.push({ kind: { $case: 'input', value: { data: Buffer.from(k) } } });
  wakeLocal?.();
}, (fn) => (onLocal = fn));
localAbort.abort();

const bare = barePty([]);
const bareEcho = await echoes((k) => bare.write(k), (fn) => bare.onData(fn));
bare.kill();

console.log(`keystroke echo (${ECHOES} keys)   p50          p99`);
console.log(`  bare PTY                       ${fmt(bareEcho.p50)}    ${fmt(bareEcho.p99)}`);
console.log(`  local attach (session socket)  ${fmt(localEcho.p50)}    ${fmt(localEcho.p99)}`);
console.log(`  WebSocket -> hub -> runner     ${fmt(hubEcho.p50)}    ${fmt(hubEcho.p99)}   (${(hubEcho.p50 / localEcho.p50).toFixed(2)}x local, goal p50 <= 3 ms: ${hubEcho.p50 <= 3 ? 'met' : 'NOT met'})`);
}

// ---------------------------------------------------------------- 2. throughput and hub CPU per MB
if (PARTS.has(2)) {
const floodBytes = FLOOD_MB * 1024 * 1024;
const floodSession = await spawnSession('', ['--flood', String(floodBytes)]);
const fv = viewer(floodSession);
await until(() => fv.snapshots > 0, 20_000, 'the snapshot');
const cpu0 = cpuMs(hubPid);
const floodGroups = { runner: pidsOf(runnerHome.home, /hapi\.cjs runner/), session: pidsOf(runnerHome.home, new RegExp(`--hapi-session-id ${floodSession}`)), bench: [process.pid] };
const floodCpu0 = Object.fromEntries(Object.entries(floodGroups).map(([k, p]) => [k, cpuOf(p)]));
// BENCH_PIDS_FILE=<file>: the hub's, the runner's and the flood session's pids, written as the flood starts (for perf record -p).
if (process.env.BENCH_PIDS_FILE) writeFileSync(process.env.BENCH_PIDS_FILE, JSON.stringify({ hub: hubPid, ...floodGroups }));
let t0 = process.hrtime.bigint();
const bytes0 = fv.bytes;
const frames0 = fv.frames;
fv.ws.send(Buffer.from('F'));
// A viewer that fell behind at the very end sees "flood done" only in its fresh snapshot (then the figure does not count).
await until(() => fv.tail.includes('flood done') || (fv.snapshots > 1 && fv.screen.includes('flood done')), 600_000, 'the flood through the hub');
const hubSecs = Number(process.hrtime.bigint() - t0) / 1e9;
const relayed = fv.bytes - bytes0;
const hubCpu = cpuMs(hubPid) - cpu0;
const floodCpu = Object.entries(floodGroups).map(([k, p]) => `${k} ${((cpuOf(p) - floodCpu0[k]) / (relayed / 1024 / 1024)).toFixed(1)}`).join(', ');
const counts = fv.inOrder && fv.snapshots === 1;
fv.ws.close();

const bp = barePty(['--flood', String(floodBytes)]);
let bareBytes = 0;
let bareTail = '';
bp.onData((d) => {
  bareBytes += d.length;
  bareTail = (bareTail + d).slice(-64);
});
await until(() => bareTail.includes('fixture tui'), 10_000, 'the bare fixture');
t0 = process.hrtime.bigint();
bp.write('F');
await until(() => bareTail.includes('flood done'), 600_000, 'the bare flood');
const bareSecs = Number(process.hrtime.bigint() - t0) / 1e9;
bp.kill();
const mbps = (b, s) => b / 1024 / 1024 / s;
console.log(`\nthroughput (${FLOOD_MB} MB)`);
console.log(`  bare PTY                       ${mbps(bareBytes, bareSecs).toFixed(1)} MB/s`);
console.log(`  WebSocket viewer via hub       ${mbps(relayed, hubSecs).toFixed(1)} MB/s  (${(bareSecs / hubSecs).toFixed(2)}x bare, goal >= 0.5x; every byte in order, one snapshot: ${counts ? 'yes' : 'NO - figure does not count'})`);
console.log(`  output messages                ${fv.frames - frames0}, ${((relayed / Math.max(1, fv.frames - frames0)) / 1024).toFixed(1)} KiB each on average`);
console.log(`  hub CPU per MB relayed         ${(hubCpu / (relayed / 1024 / 1024)).toFixed(2)} ms`);
console.log(`  other CPU ms per MB            ${floodCpu} (the session with its agent: pty, screen model, Attach)`);
}

// ---------------------------------------------------------------- 3. hub memory per viewer
if (PARTS.has(3)) {
const rss0 = rssMb(hubPid);
const idle = [];
for (let i = 0; i < VIEWERS; i++) idle.push(viewer(echoSession, 'read-only'));
await until(() => idle.every((v) => v.snapshots > 0), 60_000, 'every idle viewer’s snapshot');
await new Promise((r) => setTimeout(r, 500));
const rss1 = rssMb(hubPid);
console.log(`\nhub memory per attached viewer   ${(((rss1 - rss0) * 1024) / VIEWERS).toFixed(0)} KB  (${VIEWERS} idle WebSocket viewers: hub RSS ${rss0.toFixed(1)} -> ${rss1.toFixed(1)} MB)`);
for (const v of idle) v.ws.close();
}

// ---------------------------------------------------------------- 4. control latency under terminal load
if (PARTS.has(4)) {
const streams = [];
for (let i = 0; i < STREAMING; i++) streams.push(await spawnSession('stream', []));
const sv = streams.map((id) => viewer(id));
await until(() => sv.every((v) => v.snapshots > 0), 60_000, 'every streaming viewer’s snapshot');
// At least 300 calls and 5 s: the viewers' rate is taken over the same window, long enough that
// it shows whether the sessions keep up (20 x 200 KB/s = 3.9 MB/s) rather than a catch-up burst.
async function statusP99(n = 300, minMs = 5_000) {
  const samples = [];
  const until = Date.now() + minMs;
  for (let i = 0; i < n || Date.now() < until; i++) {
    const t = process.hrtime.bigint();
    await hub.getRunnerStatus({ machineId });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return summarize(samples);
}
// Who spends the CPU while it is measured (ms of CPU per second of wall time, 2 cores = 2000).
const groups = { hub: [hubPid], runner: pidsOf(runnerHome.home, /hapi\.cjs runner/), sessions: pidsOf(runnerHome.home, /--hapi-session-id/), agents: pidsOf(runnerHome.home, /stream-agent/), bench: [process.pid] };
// BENCH_PROFILE_SIGNAL=<dir>: SIGUSR2 at both ends of the loaded measurement to every process that
// put <pid>.ready in <dir> (a preload that profiles between two SIGUSR2s gets that window only).
const profiled = process.env.BENCH_PROFILE_SIGNAL ? readdirSync(process.env.BENCH_PROFILE_SIGNAL).filter((f) => f.endsWith('.ready')).map((f) => Number(f.split('.')[0])) : [];
const signalAll = () => {
  for (const p of profiled) {
    try {
      process.kill(p, 'SIGUSR2');
    } catch {}
  }
};
async function measured(fn, profile = false) {
  if (profile) signalAll();
  const c0 = Object.fromEntries(Object.entries(groups).map(([k, p]) => [k, cpuOf(p)]));
  const t = Date.now();
  const r = await fn();
  const secs = (Date.now() - t) / 1000;
  r.cpu = Object.entries(groups).map(([k, p]) => `${k} ${((cpuOf(p) - c0[k]) / secs).toFixed(0)}`).join(', ');
  if (profile && profiled.length) {
    signalAll();
    await new Promise((r) => setTimeout(r, 3_000));
  }
  return r;
}
// The baseline with the sessions settled: a session's first seconds (its compiles, its first
// collections) would load the machine and flatter the ratio.
const settled = Date.now();
for (let last = cpuOf(groups.sessions); ; ) {
  await new Promise((r) => setTimeout(r, 1_000));
  const now = cpuOf(groups.sessions);
  if (now - last < 15 * groups.sessions.length || Date.now() - settled > 20_000) break;
  last = now;
}
const quiet = await measured(statusP99);
for (const v of sv) v.ws.send(Buffer.from('S'));
await new Promise((r) => setTimeout(r, 2_000));
const b0 = sv.reduce((a, v) => a + v.bytes, 0);
const t1 = Date.now();
const loaded = await measured(statusP99, true);
const rate = (sv.reduce((a, v) => a + v.bytes, 0) - b0) / 1024 / ((Date.now() - t1) / 1000);
console.log(`\nrelayed GetRunnerStatus with ${STREAMING} sessions    p50         p99`);
console.log(`  no output                             ${fmt(quiet.p50)}   ${fmt(quiet.p99)}`);
console.log(`  each streaming 200 KB/s to a viewer   ${fmt(loaded.p50)}   ${fmt(loaded.p99)}   (${(loaded.p99 / quiet.p99).toFixed(2)}x, goal <= 2x; viewers got ${rate.toFixed(0)} KB/s in all, the agents write ${((STREAMING * 20_328 * 10) / 1024).toFixed(0)} KB/s; ${loaded.n} calls)`);
console.log(`  CPU ms/s while measured, no output:   ${quiet.cpu}`);
console.log(`  CPU ms/s while measured, streaming:   ${loaded.cpu}   (${groups.sessions.length} session processes)`);
for (const v of sv) v.ws.close();
}
if (process.env.BENCH_GRACEFUL || PROFILE_DIR) {
  const all = [...pidsOf(runnerHome.home, /./), ...pidsOf(hubHome.home, /./)];
  for (const p of all) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {}
  }
  await until(() => all.every((p) => !readdirSync('/proc').includes(String(p))), 30_000, 'every process to end').catch((e) => console.error(e.message));
}
hubProc.kill('SIGTERM');
process.exit(0);
