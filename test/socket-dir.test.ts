// The fallback socket directory (<runtime base>/hapi-<uid>, used when $HAPI_HOME/runner.sock
// would be too long) lives in a shared place: the runner must never use one that another user
// created, never follow a symlink there, and must make its own one private. Real runners
// started by the built CLI (`npm run build` first), with XDG_RUNTIME_DIR pointing at a private
// temporary directory so the machine's real /tmp/hapi-<uid> is never touched.
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupAllHomes, createTestHome, killProcessesOfHome, type TestHome } from './harness.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
/** The uid of `nobody` on Debian and most Linux systems. */
const NOBODY = 65534;

interface Setup {
  th: TestHome;
  /** A HAPI_HOME too deep for $HAPI_HOME/runner.sock. */
  deepHome: string;
  /** XDG_RUNTIME_DIR of the test: the fallback directory is <runtime>/hapi-<uid>. */
  runtime: string;
  socketDir: string;
}

const setups: Setup[] = [];

afterEach(async () => {
  for (const s of setups.splice(0)) {
    await killProcessesOfHome(s.deepHome);
    await s.th.cleanup();
    rmSync(s.runtime, { recursive: true, force: true });
  }
});
afterAll(cleanupAllHomes);

function setup(): Setup {
  const runtime = realpathSync(mkdtempSync(join(tmpdir(), 'hapi-xdg-')));
  const th = createTestHome({ XDG_RUNTIME_DIR: runtime });
  const deepHome = join(th.home, 'd'.repeat(110));
  mkdirSync(deepHome, { mode: 0o700 });
  th.env.HAPI_HOME = deepHome;
  const s: Setup = { th, deepHome, runtime, socketDir: join(runtime, `hapi-${uid}`) };
  setups.push(s);
  return s;
}

describe('fallback socket directory', () => {
  it.skipIf(!isRoot)('refuses a directory another user created (0777), naming it and the fix; starts once it is gone', async () => {
    const s = setup();
    mkdirSync(s.socketDir);
    chmodSync(s.socketDir, 0o777);
    chownSync(s.socketDir, NOBODY, NOBODY);

    const r = await s.th.cli(['runner', 'start']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${s.socketDir} belongs to uid ${NOBODY}`);
    expect(r.stderr).toContain(`sudo rm -rf ${s.socketDir}`);
    // Nothing of ours was put there, and the directory was left as it was.
    const st = statSync(s.socketDir);
    expect([st.uid, st.mode & 0o777]).toEqual([NOBODY, 0o777]);

    rmSync(s.socketDir, { recursive: true });
    const ok = await s.th.cli(['runner', 'start']);
    expect(ok.code, ok.stderr).toBe(0);
    const mine = statSync(s.socketDir);
    expect([mine.uid, mine.mode & 0o777]).toEqual([uid, 0o700]);
    expect((await s.th.cli(['runner', 'stop'])).code).toBe(0);
  });

  it('makes its own directory private when its mode is loose', async () => {
    const s = setup();
    mkdirSync(s.socketDir);
    chmodSync(s.socketDir, 0o777);
    const r = await s.th.cli(['runner', 'start']);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(s.socketDir).mode & 0o777).toBe(0o700);
    const sockets = readdirSync(s.socketDir);
    expect(sockets).toHaveLength(1);
    expect(statSync(join(s.socketDir, sockets[0]!)).mode & 0o777).toBe(0o600);
    expect((await s.th.cli(['runner', 'stop'])).code).toBe(0);
  });

  it('never follows a symlink there', async () => {
    const s = setup();
    const target = join(s.runtime, 'elsewhere');
    mkdirSync(target);
    chmodSync(target, 0o755);
    symlinkSync(target, s.socketDir);
    const r = await s.th.cli(['runner', 'start']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${s.socketDir} is a symbolic link`);
    expect(lstatSync(s.socketDir).isSymbolicLink()).toBe(true);
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(readdirSync(target)).toEqual([]);
  });
});

if (!isRoot) {
  console.warn('\n*** socket-dir.test.ts: NOT running as root; the test with a directory owned by `nobody` is SKIPPED ***\n');
}
