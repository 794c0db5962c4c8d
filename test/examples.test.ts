// Issue 14 item 9: examples/ run with one documented command (`npm run example -- <name>`),
// against the hub `hapi up` runs, with nothing but what `hapi up` saved for this HAPI_HOME.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_AGENT, REPO_ROOT, cleanupAllHomes, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';

let th: TestHome | undefined;
afterEach(async () => {
  await th?.cleanup();
  th = undefined;
});
afterAll(cleanupAllHomes);

describe('examples', () => {
  it('`npm run example -- list-and-spawn <dir>` lists the machines of `hapi up` and starts a session', async () => {
    const t = (th = createTestHome({ HAPI_HUB_GRPC_PORT: '0', HAPI_HUB_HTTP_PORT: '0', HAPI_API_URL: '', HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` }));
    const up = t.spawnCli(['up']);
    let out = '';
    up.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => up.on('exit', (code) => r(code)));
    await waitFor(() => /Ctrl\+C stops/.test(out), 30_000, `hapi up:\n${out}`);
    const machineId = /machine (\S+) \(.*\) is online/.exec(out)![1]!;
    const dir = join(t.home, 'work');
    mkdirSync(dir);
    // The environment of a person's shell: HAPI_HOME, no hub URL or token.
    const env = { ...t.env, HAPI_API_URL: '', CLI_API_TOKEN: '' };
    const r = spawnSync('npm', ['run', '--silent', 'example', '--', 'list-and-spawn', dir], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${machineId}  `);
    const sessionId = /started session (\S+) on (\S+)/.exec(r.stdout)!;
    expect(sessionId[2]).toBe(machineId);
    const listed = (JSON.parse((await t.cli(['runner', 'list', '--json'])).stdout) as { sessions: { sessionId: string; pid: number }[] }).sessions;
    const session = listed.find((s) => s.sessionId === sessionId[1]);
    expect(session && isAlive(session.pid)).toBe(true);
    // An unknown example: usage and exit 2.
    const bad = spawnSync('npm', ['run', '--silent', 'example', '--', 'nope'], { cwd: REPO_ROOT, env, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('examples: list-and-spawn');
    up.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
