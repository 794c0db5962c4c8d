// Idle memory: resident set size (VmRSS) of an idle runner (`hapi runner start`, no hub) and an
// idle hub (`hapi hub`, ports 0), next to a bare `node -e` process measured in the same run, as
// ratios (issue 10's goal: runner <= 55 MB, hub <= 65 MB where a bare node is ~41 MB, i.e.
// about 1.34x and 1.59x). Each process is read BENCH_IDLE_SETTLE_MS (default 3000) after it is
// ready, before V8's memory reducer shrinks the heap (10-60 s later); the figure is the median
// of BENCH_IDLE_RUNS (default 3) fresh starts. test/idle-footprint.test.ts checks what the idle
// paths load.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI, tempHome } from './lib.mjs';

const RUNS = Number(process.env.BENCH_IDLE_RUNS ?? 3);
const SETTLE_MS = Number(process.env.BENCH_IDLE_SETTLE_MS ?? 3000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** VmRSS of a process, in MB. */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

/** A bare node process that stays alive doing nothing. */
async function bareNode(env) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { env, stdio: 'ignore' });
  try {
    await sleep(SETTLE_MS);
    return rssMb(child.pid);
  } finally {
    child.kill('SIGKILL');
  }
}

async function idleRunner() {
  const h = tempHome();
  try {
    h.cli(['runner', 'start']);
    await sleep(SETTLE_MS);
    return rssMb(h.state().pid);
  } finally {
    h.cleanup();
  }
}

async function idleHub() {
  const h = tempHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_LOG_LEVEL: 'warn' });
  try {
    const hub = spawn(process.execPath, [CLI, 'hub'], { env: h.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    hub.stdout.on('data', (d) => (out += d));
    const deadline = Date.now() + 20_000;
    while (!/owner token[^\n]*:\n\s+\S+/.test(out)) {
      if (Date.now() > deadline) throw new Error(`hub did not start:\n${out}`);
      await sleep(50);
    }
    await sleep(SETTLE_MS);
    return rssMb(hub.pid);
  } finally {
    h.cleanup();
  }
}

const samples = { bare: [], runner: [], hub: [] };
const env = { ...process.env };
// Interleaved so machine noise hits all three alike.
for (let i = 0; i < RUNS; i++) {
  samples.bare.push(await bareNode(env));
  samples.runner.push(await idleRunner());
  samples.hub.push(await idleHub());
}
const bare = median(samples.bare);
const runner = median(samples.runner);
const hub = median(samples.hub);
console.log(`\n## idle RSS (median of ${RUNS} starts, ${SETTLE_MS} ms after ready)`);
console.log(`node -e (bare)   ${bare.toFixed(1)} MB`);
console.log(`runner (no hub)  ${runner.toFixed(1)} MB  ratio ${(runner / bare).toFixed(2)}x  (+${(runner - bare).toFixed(1)} MB; goal <= 55 MB with a 41 MB bare node)`);
console.log(`hub              ${hub.toFixed(1)} MB  ratio ${(hub / bare).toFixed(2)}x  (+${(hub - bare).toFixed(1)} MB; goal <= 65 MB with a 41 MB bare node)`);
if (process.env.BENCH_IDLE_VERBOSE) console.log(JSON.stringify(samples));
