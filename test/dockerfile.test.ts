// Issue 14 item 9: the hub's Dockerfile, checked statically (no Docker engine runs here): a
// multi-stage build whose runtime stage runs the built CLI's `hub` as a non-root user, with
// HAPI_HOME on a volume and a HEALTHCHECK; its healthcheck command is run for real against a hub;
// `hadolint` lints it where installed.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, cleanupAllHomes, createTestHome } from './harness.js';
import { startHubProcess } from './hub-helpers.js';

afterAll(cleanupAllHomes);

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions: comments dropped, continuation lines joined. */
function parse(text: string): Instruction[] {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ') };
    });
}

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const all = parse(dockerfile);
const stages: Instruction[][] = [];
for (const i of all) {
  if (i.op === 'FROM') stages.push([]);
  stages.at(-1)?.push(i);
}
const runtime = stages.at(-1)!;
const ops = (stage: Instruction[], op: string) => stage.filter((i) => i.op === op).map((i) => i.args);

describe('Dockerfile of the hub', () => {
  it('builds in one stage and runs from a slim one', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(ops(stages[0]!, 'FROM')[0]).toMatch(/^node:20\S* AS build$/);
    const buildRuns = ops(stages[0]!, 'RUN').join('\n');
    expect(buildRuns).toContain('npm ci');
    expect(buildRuns).toContain('npm run build');
    expect(buildRuns).toContain('npm prune --omit=dev');
    expect(ops(runtime, 'FROM')[0]).toMatch(/^node:20/);
    // Only built output and runtime dependencies reach the runtime stage.
    const copies = ops(runtime, 'COPY');
    expect(copies.every((c) => c.startsWith('--from=build '))).toBe(true);
    for (const path of ['/src/dist', '/src/node_modules', '/src/gen/descriptors.binpb']) expect(copies.some((c) => c.includes(path))).toBe(true);
    // What the build stage copies from the context exists, and the context leaves out local builds.
    for (const c of ops(stages[0]!, 'COPY')) for (const f of c.split(' ').slice(0, -1)) if (f !== '.') expect(existsSync(join(REPO_ROOT, f))).toBe(true);
    const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
  });

  it('runs `hapi hub` as a non-root user with HAPI_HOME on a volume and a healthcheck', () => {
    const user = ops(runtime, 'USER');
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    const env = ops(runtime, 'ENV').join(' ');
    const home = /HAPI_HOME=(\S+)/.exec(env)![1]!;
    expect(ops(runtime, 'VOLUME').join(' ')).toContain(`"${home}"`);
    expect(env).toContain('HAPI_HUB_HOST=0.0.0.0');
    expect(ops(runtime, 'EXPOSE')).toEqual(['3737 3738']);
    expect(JSON.parse(ops(runtime, 'ENTRYPOINT')[0]!)).toEqual(['node', '/app/dist/hapi.cjs']);
    expect(JSON.parse(ops(runtime, 'CMD')[0]!)).toEqual(['hub']);
    // USER comes after the last RUN that needs root (creating the user and the volume's directory).
    const lastRun = runtime.map((i) => i.op).lastIndexOf('RUN');
    expect(runtime.findIndex((i) => i.op === 'USER')).toBeGreaterThan(lastRun);
    expect(ops(runtime, 'HEALTHCHECK')).toHaveLength(1);
  });

  it("the healthcheck's command passes against a running hub and fails when none answers", async () => {
    const hc = ops(runtime, 'HEALTHCHECK')[0]!;
    const argv = JSON.parse(hc.slice(hc.indexOf('CMD ') + 4)) as string[];
    expect(argv[0]).toBe('node');
    const th = createTestHome();
    const hub = await startHubProcess(th);
    try {
      const port = new URL(hub.httpUrl).port;
      const ok = spawnSync(process.execPath, argv.slice(1), { env: { ...process.env, HAPI_HUB_HTTP_PORT: port }, encoding: 'utf8', timeout: 10_000 });
      expect(ok.status, ok.stderr).toBe(0);
    } finally {
      await hub.stop();
      await th.cleanup();
    }
    const down = spawnSync(process.execPath, argv.slice(1), { env: { ...process.env, HAPI_HUB_HTTP_PORT: '1' }, encoding: 'utf8', timeout: 10_000 });
    expect(down.status).toBe(1);
  });

  const hadolint = spawnSync('sh', ['-c', 'command -v hadolint']).status === 0;
  it.skipIf(!hadolint)('passes hadolint', () => {
    const r = spawnSync('hadolint', [join(REPO_ROOT, 'Dockerfile')], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
  if (!hadolint) console.warn('SKIPPED: hadolint is not installed; the Dockerfile was checked by parsing only');
});
