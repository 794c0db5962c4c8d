// Issue 14 item 9: `npm pack` from a clean clone of HEAD gives a working package. The clone is
// packed with its `prepack` (the build, from the clone's own sources); its dependencies come
// from the shared install (`npm ci` in the clone would rebuild the native addons: minutes). The
// tarball is installed with `npm install --offline` into a temporary directory from npm's cache,
// through a lockfile made from the project's (the same versions a clean install resolves; npm
// needs each package's tarball address to stay offline). The native addons are not compiled
// again there (better-sqlite3 takes ~2.5 min on this machine): their builds are copied from the
// shared install, same versions and same Node, as a prebuilt binary would arrive. Then the
// installed `hapi` runs: `--version`, and `hapi up` with its own HAPI_HOME and ports, whose
// printed commands run as printed.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';

const dirs: string[] = [];
let th: TestHome | undefined;
afterEach(async () => {
  await th?.cleanup();
  th = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
afterAll(cleanupAllHomes);

interface LockEntry {
  version: string;
  name?: string;
  dev?: boolean;
  resolved?: string;
  [k: string]: unknown;
}

/** A lockfile for a project that depends on the tarball only, with the project's runtime dependency tree. */
function lockFor(tarball: string, pkg: { version: string; license: string; dependencies: Record<string, string>; bin: unknown; engines: unknown }): unknown {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'install-test', dependencies: { '@hapi-dev/cli': spec } },
    'node_modules/@hapi-dev/cli': { version: pkg.version, resolved: spec, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path || entry.dev) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[path] = { resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${entry.version}.tgz`, ...entry };
  }
  return { name: 'install-test', lockfileVersion: 3, requires: true, packages };
}

describe('the npm package', () => {
  it('packs from a clean clone, installs offline, and its hapi runs --version and up', async () => {
    const work = realpathSync(mkdtempSync(join(tmpdir(), 'hapi-pack-')));
    dirs.push(work);
    const clone = join(work, 'clone');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, clone]);
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'));
    const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('@hapi-dev/cli');
    expect(pkg.bin).toEqual({ hapi: 'dist/hapi.cjs' });
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(existsSync(join(clone, 'dist'))).toBe(false);

    const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: clone, encoding: 'utf8', timeout: 300_000 });
    expect(packed.status, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    const files = info.files.map((f) => f.path);
    for (const f of ['dist/hapi.cjs', 'dist/web/index.html', 'gen/descriptors.binpb', 'README.md', 'package.json']) expect(files).toContain(f);
    expect(files.some((f) => f.startsWith('dist/lazy/'))).toBe(true);
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);

    const inst = join(work, 'inst');
    mkdirSync(inst);
    const tarball = join(work, info.filename);
    writeFileSync(join(inst, 'package.json'), JSON.stringify({ name: 'install-test', private: true, dependencies: { '@hapi-dev/cli': `file:${tarball}` } }));
    writeFileSync(join(inst, 'package-lock.json'), JSON.stringify(lockFor(tarball, pkg)));
    const installed = spawnSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: inst, encoding: 'utf8', timeout: 300_000 });
    expect(installed.status, installed.stderr).toBe(0);
    for (const addon of ['better-sqlite3', 'node-pty']) {
      const version = (p: string) => JSON.parse(readFileSync(join(p, 'package.json'), 'utf8')).version;
      expect(version(join(inst, 'node_modules', addon))).toBe(version(join(REPO_ROOT, 'node_modules', addon)));
      cpSync(join(REPO_ROOT, 'node_modules', addon, 'build'), join(inst, 'node_modules', addon, 'build'), { recursive: true });
    }
    const bin = join(inst, 'node_modules', '.bin', 'hapi');
    expect(realpathSync(bin)).toBe(join(inst, 'node_modules', '@hapi-dev', 'cli', 'dist', 'hapi.cjs'));

    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);

    // `hapi up` from the installed package, with `hapi` on PATH (an npm bin directory).
    const t = (th = createTestHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_API_URL: '', PATH: `${join(inst, 'node_modules', '.bin')}:${process.env.PATH}` }));
    const up = t.spawnCli(['up'], { cliPath: bin });
    let out = '';
    let err = '';
    up.stdout!.on('data', (d) => (out += d));
    up.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => up.on('exit', (code) => r(code)));
    await waitFor(() => /Ctrl\+C stops/.test(out), 60_000, `hapi up from the package:\n${out}\n${err}`);
    expect(out).toMatch(/machine \S+ \(.*\) is online/);
    expect(out).toContain('\n  hapi machines\n');
    const machines = spawnSync('sh', ['-c', 'hapi machines --json'], { env: t.env, encoding: 'utf8' });
    expect(machines.status, machines.stderr).toBe(0);
    expect(JSON.parse(machines.stdout).machines[0]).toMatchObject({ online: true });
    // The page is in the package too.
    const httpUrl = /hub HTTP listening on (\S+)/.exec(out)![1]!;
    const page = await fetch(`${httpUrl}/`);
    expect(page.status).toBe(200);
    up.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
