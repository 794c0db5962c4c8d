// What an idle runner and an idle hub load (issue 10, item 19: idle memory). Resident memory
// itself is measured by `npm run bench` (bench/idle.mjs, against a bare node process); this
// checks, exactly and without timing, that the idle paths avoid what cost it: ICU's locale data
// (the first toLocaleString maps ~8 MB), the hub link's code in a runner without a hub, reading
// every process's environment while looking for sessions, in the hub a second grpc-js with
// proto-loader and protobufjs (the official health and reflection packages), and Node's ESM
// wrapper around CommonJS packages. A preloaded probe (test/fixtures/footprint-probe.mjs)
// records what the daemon does.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupAllHomes, createTestHome, REPO_ROOT, waitFor, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';

const PROBE = join(REPO_ROOT, 'test', 'fixtures', 'footprint-probe.mjs');

interface Footprint {
  /** ICU-backed calls (locale formatting, Intl objects), with where they came from. */
  icu: string[];
  /** CommonJS modules loaded (absolute paths). */
  cjs: string[];
  /** ES modules loaded (absolute paths). */
  esm: string[];
  /** PIDs of the processes whose environment was read. */
  environReads: number[];
}

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
afterAll(cleanupAllHomes);

function probedHome(): { th: TestHome; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hapi-footprint-'));
  dirs.push(dir);
  const th = createTestHome({ NODE_OPTIONS: `--import ${PROBE}`, HAPI_FOOTPRINT_DIR: dir, HAPI_LOG_LEVEL: 'info' });
  homes.push(th);
  return { th, dir };
}

/** Asks the probe in `pid` for its report. */
async function footprint(dir: string, pid: number): Promise<Footprint> {
  process.kill(pid, 'SIGUSR2');
  const report = await waitFor(() => {
    try {
      return JSON.parse(readFileSync(join(dir, `${pid}.json`), 'utf8')) as Omit<Footprint, 'esm'>;
    } catch {
      return undefined;
    }
  }, 10_000, 'footprint report');
  const esm = readFileSync(join(dir, `${pid}.esm`), 'utf8')
    .split('\n')
    .filter((u) => u.startsWith('file:'))
    .map((u) => fileURLToPath(u));
  return { ...report, esm };
}

function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

/** Parent PID, or undefined when the process is gone. */
function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Runs the hapi CLI (dist/hapi.cjs or an installed `hapi`), as session discovery defines it. */
// Node's flags come first: sessions run as `node --max-semi-space-size=2 <hapi> ...`.
const isHapi = (pid: number) => /^hapi(\.[cm]?js)?$/.test(basename(cmdline(pid)?.slice(1).find((a) => !a.startsWith('-')) ?? ''));

describe('idle footprint', () => {
  it('a runner without a hub loads neither the hub link nor ICU locale data, nor reads every process environment', async () => {
    const { th, dir } = probedHome();
    const r = await th.cli(['runner', 'start']);
    expect(r.code).toBe(0);
    const state = th.state()!;
    await waitFor(() => readFileSync(state.runnerLogPath, 'utf8').includes('runner started'), 15_000, 'runner started');
    const f = await footprint(dir, state.pid);

    expect(f.icu).toEqual([]);
    expect(f.esm.length).toBeGreaterThan(0);
    // Few modules: every ES module resolution runs path.resolve() twice, and about a hundred of
    // them made V8 optimize path's normalizeString at start, which maps TurboFan's ~3.5 MB of
    // machine code into an otherwise idle runner (scripts/build.mjs bundles the daemon apart).
    expect(f.esm.map((p) => basename(p)).filter((n) => n.endsWith('.mjs'))).toHaveLength(2);
    // The hub's MachineService (the hub link's contract) is in none of the loaded modules.
    const withHubContract = f.esm.filter((p) => readFileSync(p, 'utf8').includes('hapi.hub.v1.MachineService'));
    expect(withHubContract).toEqual([]);
    // Looking for sessions in a fresh HAPI_HOME (no registry yet) reads the environment only of
    // hapi processes and their children, not of every process on the machine.
    const unrelated = f.environReads.filter((pid) => {
      const parent = ppidOf(pid);
      return parent !== undefined && !isHapi(pid) && !isHapi(parent);
    });
    expect(unrelated.map((pid) => `${pid}: ${cmdline(pid)?.join(' ')}`)).toEqual([]);
  });

  it('a hub serves health and reflection without a second grpc-js, proto-loader or protobufjs, and requires its CommonJS packages', async () => {
    const { th, dir } = probedHome();
    const h = await startHubProcess(th);
    hubs.push(h);
    const f = await footprint(dir, h.proc.pid!);

    expect(f.icu).toEqual([]);
    const packages = f.cjs.filter((p) => /node_modules\/(@grpc\/|grpc-health-check|protobufjs|@protobufjs)/.test(p));
    expect(packages).toEqual([]);
    // better-sqlite3 is required, not imported: Node's ESM wrapper would lex it first.
    expect(f.cjs.some((p) => p.includes('/node_modules/better-sqlite3/'))).toBe(true);
    expect(f.esm.filter((p) => p.includes('/node_modules/'))).toEqual([]);
  });
});
