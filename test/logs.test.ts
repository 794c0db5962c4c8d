// Logs people can read: the real logs of a runner linked to a hub (spawn, screen, stop through
// the hub, a hub restart) carry each key once per line; `hapi runner logs` / `hapi hub logs`
// print the path, the last lines (-n), pino-pretty lines (--pretty) and follow (--follow),
// also into the next log after a restart.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAllHomes, createTestHome, FIXTURE_AGENT, isAlive, waitFor, type TestHome } from './harness.js';
import { machineIdOf } from './runner-calls.js';
import { startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';
import { duplicateKeys } from './log-keys.js';

const homes: TestHome[] = [];
const hubs: HubProcess[] = [];

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of homes.splice(0)) await th.cleanup();
  await cleanupAllHomes();
});

function logLines(home: string): Array<{ file: string; line: string }> {
  const dir = join(home, 'logs');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((line) => ({ file: f, line })));
}

describe('daemon logs', () => {
  it('a runner and a hub at work write each key once per line', async () => {
    const hubTh = createTestHome({ HAPI_LOG_LEVEL: 'debug' });
    homes.push(hubTh);
    const h = await startHubProcess(hubTh);
    hubs.push(h);
    const th = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${FIXTURE_AGENT}` });
    homes.push(th);
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const machineId = await machineIdOf(th.home);
    const c = h.clients();
    await waitMachine(c, machineId, (x) => x.online);
    const spec = { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] };
    const r = await c.hub.spawnSession({ machineId, spec });
    const s = (r.outcome!.result as { value: { id: string; pid: number } }).value;
    await c.hub.getSessionScreen({ machineId, sessionId: s.id }).catch(() => undefined);
    await c.hub.stopSession({ machineId, sessionId: s.id });
    await waitFor(() => !isAlive(s.pid), 10_000, 'session to exit');
    expect((await th.cli(['runner', 'stop'])).code).toBe(0);
    expect(await h.stop('SIGTERM')).toBe(0);

    const runner = logLines(th.home);
    const hub = logLines(hubTh.home);
    // Lines of the session's own start and end, of the hub link, and of the hub's domain.
    expect(runner.some((l) => l.line.includes('"msg":"session ended"'))).toBe(true);
    expect(hub.some((l) => l.file.startsWith('hub-') && l.line.includes('"msg":"machine online"'))).toBe(true);
    const bad = [...runner, ...hub].map((l) => ({ ...l, dups: duplicateKeys(l.line) })).filter((l) => l.dups.length > 0);
    expect(bad).toEqual([]);
    expect([...runner, ...hub].filter((l) => l.line.includes('"dup_'))).toEqual([]);
  });

  it('hapi runner logs prints the path, the last lines, pretty lines, and follows into the next log', async () => {
    const th = createTestHome({ HAPI_LOG_LEVEL: 'info' });
    homes.push(th);
    const none = await th.cli(['hub', 'logs']);
    expect(none.code).toBe(4);
    expect(none.stderr).toContain('no hub logs');
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const path = (await th.cli(['runner', 'logs'])).stdout.trim();
    expect(path).toBe(th.state()!.runnerLogPath);
    const last = await th.cli(['runner', 'logs', '-n', '2']);
    expect(last.code, last.stderr).toBe(0);
    const lines = last.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toMatchObject({ msg: 'runner started' });
    const pretty = await th.cli(['runner', 'logs', '--pretty', '-n', '1']);
    expect(pretty.stdout).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO \(runner\/\d+\): runner started\n/);
    expect((await th.cli(['runner', 'logs', '-n', 'x'])).code).toBe(2);

    const follower = th.spawnCli(['runner', 'logs', '--follow', '-n', '1']);
    let out = '';
    let err = '';
    follower.stdout!.on('data', (d) => (out += d));
    follower.stderr!.on('data', (d) => (err += d));
    // It prints the last line first; then what the runner logs now: a stop, then a new runner in a new log file.
    await waitFor(() => out.includes('"msg":"runner started"'), 10_000, 'the last line');
    expect((await th.cli(['runner', 'stop'])).code).toBe(0);
    await waitFor(() => out.includes('"msg":"runner stopped"'), 10_000, 'the stop followed');
    // The next start may fall into the same second: its log then gets a -<pid> suffix, newer by name.
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    await waitFor(() => out.split('"msg":"runner started"').length === 3, 10_000, 'the new log followed');
    expect(err).toMatch(/==> .*runner-.*\.log \(the runner restarted\) <==/);
    follower.kill('SIGINT');
    expect(await new Promise((r) => follower.on('exit', (code) => r(code)))).toBe(0);
  });
});
