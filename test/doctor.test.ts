// hapi doctor against real processes: each check that can be provoked is provoked (runner down,
// a stuck runner, stale lock and state, an agent only this shell finds, hub unreachable, a bad
// token), and a healthy linked machine passes. Full log disks: test/disk-full.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, waitFor, type TestHome } from './harness.js';
import { startHubProcess, type HubProcess } from './hub-helpers.js';
import { validate } from './json-schema.js';

interface Check {
  id: string;
  title: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix: string | null;
}
interface Report {
  ok: boolean;
  hapiHome: string;
  checks: Check[];
  summary: Record<'ok' | 'warn' | 'fail' | 'skip', number>;
}

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];
const stopped: number[] = [];
const AGENT = { HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` };

afterEach(async () => {
  for (const pid of stopped.splice(0)) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

function home(env: NodeJS.ProcessEnv = {}): TestHome {
  const th = createTestHome({ ...AGENT, HOME: '', XDG_CONFIG_HOME: '', ...env });
  // A HOME of its own: the service check looks there.
  const h = join(th.home, 'user-home');
  mkdirSync(h, { recursive: true });
  th.env.HOME = h;
  homes.push(th);
  return th;
}

async function doctor(th: TestHome, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; report: Report; text: string }> {
  const r = await th.cli(['doctor', '--json'], { env });
  const report = JSON.parse(r.stdout) as Report;
  expect(validate('doctor.schema.json', report)).toEqual([]);
  const text = await th.cli(['doctor'], { env });
  expect(text.code).toBe(r.code);
  return { code: r.code, report, text: text.stdout };
}

const byId = (r: Report, id: string) => r.checks.find((c) => c.id === id);

describe('hapi doctor', () => {
  it('runner down: fails with the command that starts it; JSON has every field', async () => {
    const th = home();
    const { code, report, text } = await doctor(th);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.hapiHome).toBe(th.home);
    expect(byId(report, 'runner')).toMatchObject({ status: 'fail', fix: 'hapi runner start' });
    expect(byId(report, 'runner-files')).toMatchObject({ status: 'ok', fix: null });
    expect(byId(report, 'native-modules')).toMatchObject({ status: 'ok' });
    expect(byId(report, 'hub')).toMatchObject({ status: 'skip', fix: 'hapi auth login --hub <url> --token <token>' });
    expect(byId(report, 'service')).toMatchObject({ status: 'warn', fix: 'hapi runner install-service' });
    for (const c of report.checks) expect(Object.keys(c).sort()).toEqual(['detail', 'fix', 'id', 'status', 'title']);
    expect(report.summary.fail).toBe(report.checks.filter((c) => c.status === 'fail').length);
    expect(text).toMatch(/FAIL {2}runner +the runner is not running/);
    expect(text).toContain('fix: hapi runner start');
  });

  it('a healthy runner passes; agents are looked up with the runner\'s environment', async () => {
    const th = home();
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    // The service check finds a unit where install-service puts it.
    const unit = join(th.env.HOME!, '.config', 'systemd', 'user', 'hapi-runner.service');
    mkdirSync(join(unit, '..'), { recursive: true });
    writeFileSync(unit, '[Service]\n');
    const { code, report } = await doctor(th);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(code).toBe(0);
    const pid = th.state()!.pid;
    expect(byId(report, 'runner')).toMatchObject({ status: 'ok', detail: expect.stringContaining(`PID ${pid}`) });
    expect(byId(report, 'runner-files')!.status).toBe('ok');
    expect(byId(report, 'log-writes')!.status).toBe('ok');
    const agents = byId(report, 'agents')!;
    expect(agents.status).toBe('ok');
    expect(agents.detail).toContain(`the runner's (PID ${pid})`);
    expect(agents.detail).toContain(`claude (${process.execPath})`);
    expect(agents.detail).toContain("Sessions started from the hub or the web page run with the runner's environment");
    expect(byId(report, 'service')).toMatchObject({ status: 'ok', detail: expect.stringContaining(unit) });

    // An agent only this shell finds (its command is set here, not in the runner's environment).
    const codex = join(th.home, 'codex');
    writeFileSync(codex, '#!/bin/sh\n');
    chmodSync(codex, 0o755);
    const other = await doctor(th, { HAPI_AGENT_CODEX_COMMAND: codex });
    expect(byId(other.report, 'agents')).toMatchObject({ status: 'warn', fix: 'restart the runner from this shell: `hapi runner stop && hapi runner start`' });
    expect(byId(other.report, 'agents')!.detail).toContain('This shell finds codex, the runner does not');
  });

  it('a stuck runner fails with a restart; stale lock and state of a dead runner are reported, not removed', async () => {
    const th = home();
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const pid = th.state()!.pid;
    process.kill(pid, 'SIGSTOP');
    stopped.push(pid);
    const stuck = await doctor(th, { HAPI_RUNNER_HTTP_TIMEOUT: '1000' });
    expect(stuck.code).toBe(1);
    expect(byId(stuck.report, 'runner')).toMatchObject({ status: 'fail', detail: expect.stringContaining(`PID ${pid} holds the runner lock but does not answer`), fix: 'hapi runner stop && hapi runner start' });
    process.kill(pid, 'SIGKILL');
    await waitFor(() => spawnSync('kill', ['-0', String(pid)]).status !== 0, 10_000, 'runner gone');
    stopped.splice(0);

    const stale = await doctor(th);
    expect(stale.code).toBe(1);
    const files = byId(stale.report, 'runner-files')!;
    expect(files.status).toBe('warn');
    expect(files.detail).toContain(`lock of dead runner PID ${pid}`);
    expect(files.detail).toContain(`state file of dead runner PID ${pid}`);
    expect(files.fix).toContain('hapi runner status');
    // Doctor only looks.
    expect(existsSync(join(th.home, 'runner.state.json.lock'))).toBe(true);
    expect(existsSync(join(th.home, 'runner.state.json'))).toBe(true);
  });

  it('hub unreachable, a bad token, and a good one (with the clock and the runner\'s link)', async () => {
    const th = home({ HAPI_API_URL: 'http://127.0.0.1:1', CLI_API_TOKEN: 'hapi_nope' });
    const down = await doctor(th);
    expect(down.code).toBe(1);
    expect(byId(down.report, 'hub')).toMatchObject({ status: 'fail', detail: expect.stringContaining('cannot reach the hub at http://127.0.0.1:1') });
    expect(byId(down.report, 'hub')!.fix).toContain('hapi hub');
    expect(byId(down.report, 'hub-token')!.status).toBe('skip');

    const hubTh = createTestHome();
    homes.push(hubTh);
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const bad = await doctor(th, { HAPI_API_URL: h.grpcUrl });
    expect(byId(bad.report, 'hub')!.status).toBe('ok');
    expect(byId(bad.report, 'hub-token')).toMatchObject({ status: 'fail', detail: expect.stringContaining('refused the token from CLI_API_TOKEN') });
    expect(byId(bad.report, 'hub-token')!.fix).toContain('CLI_API_TOKEN');

    const good = home({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken });
    expect((await good.cli(['runner', 'start'])).code).toBe(0);
    const report = await waitFor(async () => {
      const r = (await doctor(good)).report;
      return byId(r, 'runner-hub-link')?.status === 'ok' ? r : undefined;
    }, 15_000, 'the runner linked');
    expect(byId(report, 'hub-token')).toMatchObject({ status: 'ok', detail: expect.stringContaining('namespace default, owner') });
    expect(byId(report, 'clock')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^this clock is \d+\.\d s (behind|ahead of) the hub's/) });
  });
});
