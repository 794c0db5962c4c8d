// Live-session benchmarks (issue 11), against the built CLI, a real runner and the fixture TUI
// agent (test/fixtures/tui-agent.mjs), each against a floor measured in the same run:
// 1. keystroke echo round trip (input -> the agent echoes -> the viewer receives) through the
//    session's socket and through the runner (AttachSession), against a bare node-pty echo of
//    the same agent; goal <= 2 ms p50 through the socket;
// 2. output throughput: the agent writes 100 MB with one viewer attached, with none, and the bare
//    PTY floor (this process reading the agent through node-pty); goal >= 0.8x the floor with one viewer;
// 3. the session process's RSS idle (2 s and 10 s after its start) and after 100 MB of output
//    (full scrollback; 2 s and 20 s after); goals <= 60 MB
//    idle, <= 80 MB after;
// 4. snapshot size and time for a full 5,000-line scrollback.
// Env: BENCH_ECHOES (300), BENCH_FLOOD_BYTES (100000000), BENCH_ROUNDS (5).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createClient } from 'nice-grpc';
import { RunnerServiceDefinition, SessionServiceDefinition, createUdsChannel } from '../dist/bench-support.mjs';
import { ROOT, fmt, summarize, tempHome } from './lib.mjs';

const pty = createRequire(import.meta.url)('node-pty');
const ECHOES = Number(process.env.BENCH_ECHOES ?? 300);
const FLOOD = Number(process.env.BENCH_FLOOD_BYTES ?? 100_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const AGENT = join(ROOT, 'test', 'fixtures', 'tui-agent.mjs');
// hapi.session.v1.AttachMode, kept literal: bench-support exports only the service.
const INTERACTIVE = 1;
const MB = 1e6;
const CLK_TCK = 100;

const h = tempHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${AGENT} --no-alt --flood ${FLOOD}`, HAPI_LOG_LEVEL: 'warn' });
const closers = [];
const until = async (what, check, timeoutMs = 120_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const rssMb = (pid, field = 'VmRSS') => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const floodMs = (text) => Number(/flood done in ([\d.]+) ms/.exec(text)?.[1]);

/** The fixture agent in a PTY of this process: the floor. */
async function bareAgent() {
  const p = pty.spawn(process.execPath, [AGENT, '--no-alt', '--flood', String(FLOOD)], { name: 'xterm-256color', cols: 120, rows: 40, env: process.env, encoding: null });
  const b = { tail: '', onData: () => {}, send: (s) => p.write(s), kill: () => p.kill('SIGKILL') };
  p.onData((d) => {
    b.tail = (b.tail + d.toString('latin1')).slice(-256);
    b.onData();
  });
  await until('the bare agent', () => b.tail.includes('fixture tui'));
  closers.push(b.kill);
  return b;
}

/**
 * The fixture agent behind the least a session can do (bench/fixtures/pty-relay.mjs: its output
 * relayed by another process to a Unix socket this process reads): the ceiling of any design.
 */
async function relayedAgent() {
  const path = join(h.home, `relay-${relays++}.sock`);
  const server = createServer();
  await new Promise((r) => server.listen(path, r));
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'fixtures', 'pty-relay.mjs'), path, process.execPath, AGENT, '--no-alt', '--flood', String(FLOOD)], { stdio: 'ignore' });
  const [socket] = await once(server, 'connection');
  const b = { tail: '', pid: child.pid, send: (s) => socket.write(s), kill: () => (child.kill('SIGKILL'), server.close()) };
  socket.on('data', (d) => (b.tail = (b.tail + d.toString('latin1', Math.max(0, d.length - 256))).slice(-256)));
  closers.push(b.kill);
  await until('the relayed agent', () => b.tail.includes('fixture tui'));
  return b;
}
let relays = 0;

/** A runner-spawned session running the fixture, with a SessionService client on its socket. */
async function liveSession(runner) {
  const r = await runner.spawnSession({ spec: { directory: h.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] } });
  const id = r.outcome.result.value.id;
  // A viewer's HTTP/2 window as the runner and `hapi attach` take it (ATTACH_WINDOW_BYTES).
  const channel = createUdsChannel(join(h.home, 'sessions', `${id}.sock`), { 'grpc-node.flow_control_window': 1024 * 1024 });
  closers.push(() => channel.close());
  const client = createClient(SessionServiceDefinition, channel);
  await until('the agent on the screen', async () => (await client.getScreen({})).text.includes('fixture tui'));
  const { pid } = await client.getInfo({});
  return { id, client, runner, pid, stop: () => runner.stopSession({ target: { $case: 'sessionId', value: id } }) };
}

/**
 * A viewer over Attach (the session's socket) or, `viaRunner`, over RunnerService.AttachSession:
 * counts what it receives and keeps the tail of the output.
 */
function attach(session, viaRunner = false) {
  const pending = [];
  let wake;
  let ended = false;
  async function* requests() {
    yield { kind: { $case: 'hello', value: { mode: INTERACTIVE, cols: 0, rows: 0 } } };
    while (!ended) {
      if (pending.length) yield pending.shift();
      else await new Promise((r) => (wake = r));
    }
  }
  const abort = new AbortController();
  const v = { snapshots: 0, snapshotBytes: 0, bytes: 0, tail: '', firstAt: 0, onData: () => {} };
  const t0 = performance.now();
  const reading = (async () => {
    try {
      const stream = viaRunner
        ? (async function* () {
            let first = true;
            const wrapped = (async function* () {
              for await (const r of requests()) {
                yield { sessionId: first ? session.id : '', request: r };
                first = false;
              }
            })();
            for await (const m of session.runner.attachSession(wrapped, { signal: abort.signal })) yield m.response ?? {};
          })()
        : session.client.attach(requests(), { signal: abort.signal });
      for await (const m of stream) {
        if (m.kind?.$case === 'snapshot') {
          v.snapshots++;
          v.snapshotBytes = m.kind.value.screen.length;
          v.firstAt ||= performance.now() - t0;
          // A viewer that fell behind gets a snapshot instead of its backlog; the last one may be
          // all there is after the end of a flood (its visible rows are at its end).
          v.tail = m.kind.value.screen.slice(-16384);
        } else if (m.kind?.$case === 'output') {
          v.bytes += m.kind.value.data.length;
          v.tail = (v.tail + Buffer.from(m.kind.value.data).toString('latin1')).slice(-256);
        }
        v.onData();
      }
    } catch {
      // aborted
    }
  })();
  const close = () => {
    ended = true;
    wake?.();
    abort.abort();
    return reading;
  };
  closers.push(close);
  v.send = (s) => {
    pending.push({ kind: { $case: 'input', value: { data: Buffer.from(s) } } });
    wake?.();
  };
  v.close = close;
  return v;
}

/**
 * One keystroke: resolves with the round trip once the echo came back. Each side types its own
 * key: both viewers see every echo, and one meant for the other must not count.
 */
function echo(side) {
  const key = side.key ?? 'k';
  return new Promise((resolve) => {
    side.tail = '';
    const t = performance.now();
    side.onData = () => {
      if (side.tail.includes(`got "${key}"`)) {
        side.onData = () => {};
        resolve(performance.now() - t);
      }
    };
    side.send(key);
  });
}

let runnerChannel;
try {
  h.cli(['runner', 'start']);
  runnerChannel = createUdsChannel(h.state().socketPath);
  const runner = createClient(RunnerServiceDefinition, runnerChannel);

  // ---- 1. keystroke echo, interleaved so machine noise hits both alike.
  const bare = await bareAgent();
  const idleSession = await liveSession(runner);
  // Idle 2 s after its start, and 10 s after it, once V8's memory reducer has given back what
  // starting up left (it runs some seconds after a burst of allocation, as after a flood).
  await new Promise((r) => setTimeout(r, 2_000));
  const idleRss = rssMb(idleSession.pid);
  await new Promise((r) => setTimeout(r, 8_000));
  const idleSettledRss = rssMb(idleSession.pid);
  const viewer = attach(idleSession);
  const proxied = attach(idleSession, true);
  viewer.key = 's';
  proxied.key = 'r';
  await until('the snapshots', () => viewer.snapshots > 0 && proxied.snapshots > 0);
  for (let i = 0; i < 20; i++) {
    await echo(bare);
    await echo(viewer);
    await echo(proxied);
  }
  const floorEcho = [];
  const socketEcho = [];
  const runnerEcho = [];
  for (let i = 0; i < ECHOES; i++) {
    floorEcho.push(await echo(bare));
    socketEcho.push(await echo(viewer));
    runnerEcho.push(await echo(proxied));
  }
  const f = summarize(floorEcho);
  const s = summarize(socketEcho);
  const r = summarize(runnerEcho);
  console.log(`\n## keystroke echo round trip (${ECHOES} keys; input -> fixture echoes -> viewer receives)`);
  console.log(`bare node-pty        p50 ${fmt(f.p50)}  p99 ${fmt(f.p99)}`);
  console.log(`session socket       p50 ${fmt(s.p50)}  p99 ${fmt(s.p99)}   ratio p50 ${(s.p50 / f.p50).toFixed(2)}x  (goal <= 2 ms p50)`);
  console.log(`through the runner   p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}   ratio p50 ${(r.p50 / f.p50).toFixed(2)}x  (RunnerService.AttachSession)`);
  await proxied.close();
  await viewer.close();
  bare.kill();
  await idleSession.stop();

  // ---- 2. + 3. + 4. throughput, RSS after the flood, snapshot of a full scrollback.
  // Each round measures the floor and both sessions back to back, on a machine with nothing else
  // of this benchmark running (an earlier session's model catching up would steal the CPU from
  // whatever is measured next): the figure is the median of the rounds' ratios. CPU per MB of
  // the reading process (this one for the floor, the session process otherwise) does not depend
  // on what else the machine runs.
  const rounds = { floor: [], relay: [], none: [], one: [], oneViewerMs: [], noneParsedMs: [], floorCpu: [], relayCpu: [], noneCpu: [], oneCpu: [], viewerCpu: [] };
  const cpuMs = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  };
  let flooded;
  let resyncs = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const b = await bareAgent();
    const c0 = process.cpuUsage();
    b.send('F');
    await until('the bare flood', () => b.tail.includes('flood done in'), 600_000);
    const c = process.cpuUsage(c0);
    rounds.floor.push(floodMs(b.tail));
    rounds.floorCpu.push((c.user + c.system) / 1000 / (FLOOD / MB));
    b.kill();

    const relay = await relayedAgent();
    const r0 = cpuMs(relay.pid);
    relay.send('F');
    await until('the relayed flood', () => relay.tail.includes('flood done in'), 600_000);
    rounds.relayCpu.push((cpuMs(relay.pid) - r0) / (FLOOD / MB));
    rounds.relay.push(floodMs(relay.tail));
    relay.kill();

    const none = await liveSession(runner);
    const tn = performance.now();
    const n0 = cpuMs(none.pid);
    await none.client.sendInput({ data: Buffer.from('F'), text: '', enter: false });
    // no_wait: look without making the screen model catch up, which would set the agent's pace.
    const text = await until('the flood on the screen', async () => {
      const t = (await none.client.getScreen({ noWait: true })).text;
      return t.includes('flood done in') && t;
    }, 600_000);
    rounds.noneCpu.push((cpuMs(none.pid) - n0) / (FLOOD / MB));
    rounds.none.push(floodMs(text));
    rounds.noneParsedMs.push(performance.now() - tn);
    await none.stop();

    const one = await liveSession(runner);
    const v = attach(one);
    await until('the snapshot', () => v.snapshots > 0);
    const to = performance.now();
    const o0 = cpuMs(one.pid);
    const v0 = process.cpuUsage();
    v.send('F');
    await until('the flood at the viewer', () => v.tail.includes('flood done in'), 600_000);
    rounds.oneCpu.push((cpuMs(one.pid) - o0) / (FLOOD / MB));
    const vc = process.cpuUsage(v0);
    rounds.viewerCpu.push((vc.user + vc.system) / 1000 / (FLOOD / MB));
    rounds.one.push(floodMs(v.tail));
    rounds.oneViewerMs.push(performance.now() - to);
    resyncs += v.snapshots - 1;
    await v.close();
    if (flooded) await flooded.stop();
    flooded = one;
    // Its model catches up before the next round starts (the last round's: before its RSS is read).
    await until('the screen model to catch up', async () => (await flooded.client.getScreen({})).text.includes('flood done in'));
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const rate = (ms) => (FLOOD / MB / (ms / 1000)).toFixed(1);
  const floorMs = med(rounds.floor);
  const ratio = (key) => med(rounds[key].map((ms, i) => rounds.floor[i] / ms)).toFixed(2);
  const cpu = (key) => `${med(rounds[key]).toFixed(1)} ms CPU/MB`;
  console.log(`\n## output throughput (the agent writes ${FLOOD / MB} MB; ${ROUNDS} rounds, medians; agent's own write time; ratio: median of the rounds' ratios)`);
  console.log(`bare PTY floor       ${rate(floorMs)} MB/s  (${fmt(floorMs)}; reader ${cpu('floorCpu')}; rounds ${rounds.floor.map(rate).join(' ')} MB/s)`);
  console.log(`bare relay           ${rate(med(rounds.relay))} MB/s  ratio ${ratio('relay')}x  (PTY -> node -> Unix socket -> this process, nothing else; relay ${cpu('relayCpu')}: the ceiling of any design with the viewer in another process)`);
  console.log(`session, no viewer   ${rate(med(rounds.none))} MB/s  ratio ${ratio('none')}x  (session ${cpu('noneCpu')}; screen model caught up after ${fmt(med(rounds.noneParsedMs))})`);
  console.log(`session, one viewer  ${rate(med(rounds.one))} MB/s  ratio ${ratio('one')}x  (goal >= 0.8x; session ${cpu('oneCpu')}, viewer ${cpu('viewerCpu')}; the viewer had it all after ${fmt(med(rounds.oneViewerMs))}, ${resyncs} resyncs in ${ROUNDS} rounds)`);

  // The last flooded session (its scrollback is full, its model caught up): resident 2 s later,
  // and 20 s later, once V8's memory reducer has given pages back (it runs some 8 to 15 s after
  // a burst, by the readings here).
  await new Promise((r) => setTimeout(r, 2_000));
  const afterRss = rssMb(flooded.pid);
  await new Promise((r) => setTimeout(r, 18_000));
  const settledRss = rssMb(flooded.pid);
  const peakRss = rssMb(flooded.pid, 'VmHWM');
  const nodeRss = Number(execFileSync(process.execPath, ['-e', "console.log(require('fs').readFileSync('/proc/self/status','utf8').match(/VmRSS:\\s+(\\d+)/)[1])"], { encoding: 'utf8' })) / 1024;
  console.log(`\n## session process RSS (floor: node -e 0 ${nodeRss.toFixed(1)} MB)`);
  console.log(`idle                 ${idleRss.toFixed(1)} MB 2 s after its start, ${idleSettledRss.toFixed(1)} MB 10 s after  (goal <= 60 MB)`);
  console.log(`after ${FLOOD / MB} MB       ${afterRss.toFixed(1)} MB 2 s after, ${settledRss.toFixed(1)} MB 20 s after  (goal <= 80 MB; peak ${peakRss.toFixed(1)} MB; with one viewer during the flood)`);

  const snapMs = [];
  let snapBytes = 0;
  for (let i = 0; i < 10; i++) {
    const v = attach(flooded);
    await until('the snapshot', () => v.snapshots > 0);
    snapMs.push(v.firstAt);
    snapBytes = v.snapshotBytes;
    await v.close();
  }
  const sn = summarize(snapMs);
  console.log(`\n## snapshot of a full scrollback (5,000 lines + 40 rows of 120 columns; attach -> snapshot received, 10 attaches)`);
  console.log(`size ${(snapBytes / 1024).toFixed(0)} KiB   p50 ${fmt(sn.p50)}  max ${fmt(sn.p99)}`);
} finally {
  for (const close of closers.splice(0)) {
    try {
      close();
    } catch {
      // already gone
    }
  }
  runnerChannel?.close();
  try {
    h.cli(['runner', 'stop']);
  } catch {
    // cleanup below kills whatever is left
  }
  h.cleanup();
}
