// A session started with its task: `hapi spawn --machine m <dir> --prompt "..." [-- args]`
// through a real hub and a real runner. A "typed" agent (the spinner fixture, which animates a
// spinner and throws away keys typed meanwhile) gets the prompt exactly once, after the
// spinner; an "argument" agent gets it as its last argument; bad prompts are refused before
// anything starts (exit 2 / INVALID_ARGUMENT / HTTP 400), and a read-only token cannot spawn
// with one. `npm run build` first.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientError, Status } from 'nice-grpc';
import { TokenScope } from '../gen/hapi/hub/v1/hub.js';
import { REPO_ROOT, cleanupAllHomes, createTestHome, waitFor } from './harness.js';
import { startHubProcess, waitMachine } from './hub-helpers.js';
import { machineIdOf } from './runner-calls.js';
import type { Tracked } from './hub-viewer.js';

const SPINNER = join(REPO_ROOT, 'test', 'fixtures', 'spinner-agent.mjs');
const t: Tracked = { homes: [], hubs: [], closers: [] };
afterEach(async () => {
  for (const h of t.hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of t.homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

async function setUp() {
  const hubHome = createTestHome();
  t.homes.push(hubHome);
  const h = await startHubProcess(hubHome);
  t.hubs.push(h);
  const th = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken });
  t.homes.push(th);
  const node = process.execPath;
  writeFileSync(
    join(th.home, 'settings.json'),
    JSON.stringify({
      agents: {
        // Typed (the default for agents that are not claude or codex).
        spin: { command: node, args: [SPINNER] },
        'spin-plain': { command: node, args: [SPINNER, '--no-paste', '--spin-ms', '1500'] },
        'spin-arg': { command: node, args: [SPINNER, '--spin-ms', '100'], promptMode: 'argument' },
        // A built-in agent name: argument mode without saying so.
        claude: { command: node, args: [SPINNER, '--spin-ms', '100'] },
      },
    }),
  );
  const r = await th.cli(['runner', 'start']);
  expect(r.code, r.stderr).toBe(0);
  const machineId = await machineIdOf(th.home);
  const c = h.clients();
  await waitMachine(c, machineId, (m) => m.online);
  const dir = join(th.home, 'work');
  mkdirSync(dir, { recursive: true });
  return { h, th, c, machineId, dir };
}

describe('hapi spawn --prompt', () => {
  it('types the prompt once the spinner is over (bracketed paste, or as typed), or passes it as the last argument', { timeout: 120_000 }, async () => {
    const { th, c, machineId, dir } = await setUp();
    const spawn = async (agent: string, prompt: string, extra: string[] = []) => {
      const r = await th.cli(['spawn', '--machine', machineId.slice(0, 8), dir, '--agent', agent, '--prompt', prompt, '--json', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { session: { id: string } }).session.id;
    };
    const screen = async (sessionId: string) => (await c.hub.getSessionScreen({ machineId, sessionId })).screen?.screen?.text ?? '';

    const typed = await spawn('spin', 'fix the failing test\nand run it', ['--', '--flag', 'two words']);
    const plain = await spawn('spin-plain', 'list the files');
    const arg = await spawn('spin-arg', 'explain this repo', ['--', '--model', 'opus']);
    const claude = await spawn('claude', 'hello claude');

    // The spinner fixture throws away what is typed during its spinner and reports it.
    await waitFor(async () => (await screen(typed)).includes('echo #1'), 30_000, 'the typed prompt to be echoed');
    let text = await screen(typed);
    // The session noted when and why it typed.
    const log = readFileSync(join(th.home, 'logs', 'sessions', `${typed}.log`), 'utf8');
    const notes = log.split('\n').filter((l) => l.startsWith('hapi:')).join('\n');
    expect(text).toContain('argv ["--flag","two words"]');
    expect(text, notes).toContain('echo #1 "fix the failing test\\nand run it"');
    expect(text).not.toContain('early input');
    await waitFor(async () => (await screen(plain)).includes('echo #1'), 30_000, 'the prompt typed without bracketed paste');
    text = await screen(plain);
    expect(text).toContain('echo #1 "list the files"');
    expect(text).not.toContain('early input');
    expect(log).toMatch(/typing the prompt \(\d+ characters\) after \d+ ms \(screen (input-ready|quiet)\)/);

    await waitFor(async () => (await screen(arg)).includes('ready'), 20_000, 'the argument agent');
    expect(await screen(arg)).toContain('argv ["--spin-ms","100","--model","opus","explain this repo"]');
    await waitFor(async () => (await screen(claude)).includes('ready'), 20_000, 'claude');
    // Last, after whatever hapi itself passes to claude (its hook settings).
    expect((await screen(claude)).replace(/\n/g, '')).toMatch(/argv \["--spin-ms","100",(.*,)?"hello claude"\]/);

    // Exactly once: nothing else arrives later (a second typing would be echoed as #2).
    const more = await c.hub.sendInput({ machineId, sessionId: typed, input: { data: Buffer.alloc(0), text: 'next', enter: true } });
    expect(more).toBeDefined();
    await waitFor(async () => (await screen(typed)).includes('echo #2 "next"'), 20_000, 'the next line');
    expect((await screen(typed)).match(/echo #/g)).toHaveLength(2);
    // The agent (the session process's child) never sees the hand-over variable.
    const sessionPid = (await c.hub.listSessions({ machineId, includeEnded: false })).sessions.find((s) => s.id === typed)!.pid;
    const agentPid = readFileSync(`/proc/${sessionPid}/task/${sessionPid}/children`, 'utf8').trim().split(/\s+/)[0];
    const environ = readFileSync(`/proc/${agentPid}/environ`, 'utf8');
    expect(environ).toContain(`HAPI_SESSION_ID=${typed}`);
    expect(environ).not.toContain('HAPI_SESSION_PROMPT=');
  });

  it('refuses bad prompts before anything starts, on every path, and read-only tokens', { timeout: 120_000 }, async () => {
    const { h, th, c, machineId, dir } = await setUp();
    const cli = (prompt: string) => th.cli(['spawn', '--machine', machineId, dir, '--agent', 'spin', '--prompt', prompt]);
    for (const [prompt, message] of [
      ['', /--prompt must not be empty/],
      ['   \n ', /prompt must not be blank/],
      ['x'.repeat(16_385), /prompt is longer than 16384 characters \(16385\)/],
      ['fix \x1b[31m it', /prompt contains a control character \(0x1b at 4\); only newline and tab are allowed/],
      ['a\rb', /control character \(0x0d/],
    ] as const) {
      const r = await cli(prompt);
      expect(r.code, `${JSON.stringify(prompt.slice(0, 20))}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    // Tab and newline are fine; 16384 characters too (counted as characters, not bytes).
    expect((await cli(`${'é'.repeat(16_383)}\t`)).code).toBe(0);

    // The hub checks too, for clients that are not the CLI.
    const spec = { directory: dir, agent: 'spin', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [], prompt: 'a\x07b' };
    const err = await c.hub.spawnSession({ machineId, spec }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).code).toBe(Status.INVALID_ARGUMENT);
    const rest = (body: object, token = h.ownerToken) =>
      fetch(`${h.httpUrl}/api/v1/machines/${machineId}/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ directory: dir, agent: 'spin', ...body }),
      });
    for (const prompt of ['', 'x\u009bm', 42]) {
      const res = await rest({ prompt });
      expect(res.status, JSON.stringify(prompt)).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('InvalidArgument');
    }

    // Read-only: refused as any spawn, the prompt changes nothing.
    const ro = await c.tokens.createToken({ namespace: 'default', label: 'ro', scope: TokenScope.TOKEN_SCOPE_READ_ONLY });
    const denied = await th.cli(['spawn', '--machine', machineId, dir, '--agent', 'spin', '--prompt', 'do it'], { env: { CLI_API_TOKEN: ro.token } });
    expect(denied.code, denied.stderr).not.toBe(0);
    expect(denied.stderr).toMatch(/read-only/);
    const res = await rest({ prompt: 'do it' }, ro.token);
    expect(res.status).toBe(403);
    // Nothing was spawned by any of these but the one good prompt.
    const { sessions } = await c.hub.listSessions({ machineId, includeEnded: true });
    expect(sessions).toHaveLength(1);
  });
});
