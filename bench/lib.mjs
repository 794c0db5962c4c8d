// Shared benchmark helpers: temporary HAPI_HOME, percentiles, cleanup of every process.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'dist', 'hapi.cjs');

export function tempHome(extra = {}) {
  const home = realpathSync(mkdtempSync(join(tmpdir(), 'hapi-bench-')));
  const env = { ...process.env, HAPI_HOME: home, HAPI_API_URL: 'http://127.0.0.1:1', CLI_API_TOKEN: '', ...extra };
  return {
    home,
    env,
    cli(args, opts = {}) {
      return execFileSync(process.execPath, [CLI, ...args], { env: { ...env, ...opts.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    },
    state() {
      return JSON.parse(readFileSync(join(home, 'runner.state.json'), 'utf8'));
    },
    cleanup() {
      killHome(home);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export function killHome(home) {
  const needle = `HAPI_HOME=${home}`;
  for (let round = 0; round < 20; round++) {
    let found = 0;
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
      try {
        if (readFileSync(`/proc/${e}/environ`, 'utf8').split('\0').includes(needle)) {
          found++;
          process.kill(Number(e), 'SIGKILL');
        }
      } catch {}
    }
    if (!found) return;
    execFileSync('sleep', ['0.05']);
  }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summarize(samplesMs) {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export const fmt = (ms) => `${ms.toFixed(2)} ms`;

/** Wall time of running a command to completion. */
export function timeCommand(cmd, args, env) {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
      else resolvePromise(ms);
    });
  });
}
