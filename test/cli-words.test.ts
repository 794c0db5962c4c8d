// The first word of `hapi <word>`: a command, or an error (exit 2) that starts nothing. Agent
// arguments come after `--`. The built CLI with the fixture agent as claude, so a word that
// wrongly started the agent would show the agent's output and a runner would appear.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_AGENT, cleanupAllHomes, createTestHome, type TestHome } from './harness.js';

const homes: TestHome[] = [];
afterEach(async () => {
  for (const th of homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

function home(): TestHome {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
  homes.push(th);
  return th;
}

describe('hapi <word>', () => {
  it('status, logs, list, doctor, typos and unknown options are exit 2 with what to run, and start nothing', async () => {
    const th = home();
    const cases: [string[], string][] = [
      [['status'], "'status' is not a hapi command; run hapi runner status or hapi auth status"],
      [['logs'], "run hapi runner logs"],
      [['list'], "run hapi runner list or hapi sessions"],
      [['runer', 'list'], "unknown command 'runer'; did you mean 'hapi runner'?"],
      [['machins'], "did you mean 'hapi machines'?"],
      [['stop-session', 'abc'], "did you mean 'hapi runner stop-session'?"],
      [['--resume'], "unknown option '--resume'; arguments for the agent go after --: hapi -- --resume"],
      [['--agent', 'codex', 'fix', 'the test'], "(arguments for the agent go after --: hapi --agent codex -- fix 'the test')"],
    ];
    for (const [args, message] of cases) {
      const r = await th.cli(args, { timeoutMs: 20_000 });
      expect(r.code, `hapi ${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).not.toContain('fixture agent');
    }
    // `hapi doctor` is reserved; once a doctor command exists it runs instead.
    const doctor = await th.cli(['doctor', '--json'], { timeoutMs: 20_000 });
    if (doctor.stderr.includes('is not a hapi command')) expect(doctor.code).toBe(2);
    expect(doctor.stdout).not.toContain('fixture agent');
    // Nothing started a runner.
    expect(existsSync(join(th.home, 'runner.state.json'))).toBe(false);
  });

  it('help and version just work', async () => {
    const th = home();
    const help = await th.cli(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: hapi');
    expect(help.stdout).toContain('hapi --agent codex -- "fix the test"');
    const sub = await th.cli(['help', 'runner']);
    expect(sub.stdout).toContain('Usage: hapi runner');
    const version = await th.cli(['version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((await th.cli(['--version'])).stdout.trim());
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('arguments after -- go to the agent', async () => {
    const th = home();
    const r = await th.cli(['--', '--exit-now', '7']);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toContain('fixture agent');
    const named = await th.cli(['--agent', 'claude', '--', 'status', '--exit-now', '0']);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toContain('fixture agent');
  });
});
