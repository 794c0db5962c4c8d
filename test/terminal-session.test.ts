// `hapi` in a terminal and `hapi attach`, through the built CLI in real terminals (node-pty),
// rendered with a headless xterm: the session runs detached and the terminal is one viewer of it.
// The agent is the fixture TUI (test/fixtures/tui-agent.mjs). `npm run build` first.
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'nice-grpc';
import * as nodePty from 'node-pty';
import xtermHeadless from '@xterm/headless';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { sessionSocketPathFor } from '../src/shared/paths.js';
import { CLI, REPO_ROOT, cleanupAllHomes, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';

const TUI_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'tui-agent.mjs');
const homes: TestHome[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  for (const th of homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

function home(extra: NodeJS.ProcessEnv = {}): TestHome {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${TUI_AGENT}`, ...extra });
  homes.push(th);
  return th;
}

/** A terminal (node-pty) running `command`, rendered by a headless xterm of the same size. */
function terminal(command: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd: string; cols?: number; rows?: number }) {
  const cols = o.cols ?? 90;
  const rows = o.rows ?? 20;
  const env = { ...o.env, TERM: 'xterm-256color', COLORTERM: 'truecolor' };
  const pty = nodePty.spawn(command, args, { name: 'xterm-256color', cols, rows, cwd: o.cwd, env: env as Record<string, string> });
  const term = new xtermHeadless.Terminal({ cols, rows, allowProposedApi: true });
  let raw = '';
  pty.onData((d) => {
    raw += d;
    term.write(d);
  });
  const exited = new Promise<number>((resolve) => pty.onExit((e) => resolve(e.signal ? 128 + e.signal : e.exitCode)));
  closers.push(() => {
    try {
      pty.kill('SIGKILL');
    } catch {
      // gone
    }
    term.dispose();
  });
  const t = {
    pty,
    term,
    exited,
    raw: () => raw,
    /** The visible rows as text, once xterm has parsed everything received so far. */
    async screen(): Promise<string> {
      await new Promise<void>((r) => term.write('', r));
      const buffer = term.buffer.active;
      const lines: string[] = [];
      for (let y = 0; y < term.rows; y++) lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
      return lines.join('\n').replace(/\n+$/, '');
    },
    /** Waits until the raw output contains `text`. */
    until: (text: string, what = JSON.stringify(text)) => waitFor(() => raw.includes(text), 20_000, what),
    resize(c: number, r: number) {
      pty.resize(c, r);
      term.resize(c, r);
    },
  };
  return t;
}

/** `hapi <args>` in a terminal; through `sh` when `report` is set, which then prints hapi's exit code and `stty -a`. */
function hapiTerminal(th: TestHome, args: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; cols?: number; rows?: number; report?: boolean } = {}) {
  const env = { ...th.env, ...o.env };
  const cwd = o.cwd ?? th.home;
  if (!o.report) return terminal(process.execPath, [CLI, ...args], { ...o, env, cwd });
  // The shell waits for a line before it exits, sent once its last line has been read: what a
  // child writes just before it exits may never be read (node-pty destroys the PTY's socket
  // 200 ms after it reports the exit), and a loaded test process lost the stty output that way.
  const script = '"$0" "$@"; echo "hapi-exit=$?"; stty -a; echo stty-done; read -r _';
  const t = terminal('/bin/sh', ['-c', script, process.execPath, CLI, ...args], { ...o, env, cwd });
  let released = false;
  t.pty.onData(() => {
    if (released || !t.raw().includes('stty-done')) return;
    released = true;
    t.pty.write('\n');
  });
  return t;
}

const maskPid = (s: string) => s.replace(/pid=\d+/g, 'pid=N');
const ttyNormal = (stty: string) => /(^|\s)icanon(\s|$)/m.test(stty) && /(^|\s)echo(\s|$)/m.test(stty) && /(^|\s)opost(\s|$)/m.test(stty);

interface Listed {
  sessionId: string;
  pid: number;
  startedBy: string;
  directory: string;
}
async function listJson(th: TestHome): Promise<Listed[]> {
  const r = await th.cli(['runner', 'list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).sessions as Listed[];
}

/** The id a detach message names. */
const detachedId = (raw: string) => /Back with: hapi attach (\S+)\]/.exec(raw)?.[1];

describe('hapi in a terminal: the terminal is one viewer of a detached session', () => {
  it('shows exactly what running the agent directly shows; keys and resizes reach it; the exit code passes through', async () => {
    const th = home();
    const steps = async (t: ReturnType<typeof terminal>) => {
      await t.until('fixture tui');
      t.pty.write('abc');
      await t.until('got "abc"');
      t.resize(100, 30);
      await t.until('size 100x30');
      t.pty.write('\x1b[200~pasted text\x1b[201~');
      await t.until('pasted "pasted text"');
      return { raw: t.raw(), screen: await t.screen() };
    };
    const direct = terminal(process.execPath, [TUI_AGENT, '--exit-code', '7'], { env: th.env, cwd: th.home });
    const expected = await steps(direct);
    const viaHapi = hapiTerminal(th, ['--', '--exit-code', '7'], { report: true });
    const got = await steps(viaHapi);
    expect(maskPid(got.raw)).toBe(maskPid(expected.raw));
    expect(maskPid(got.screen)).toBe(maskPid(expected.screen));
    expect(got.screen).toContain('size 100x30');

    // Ctrl-D: the agent exits 7, leaving the alternate screen; hapi exits 7 too.
    direct.pty.write('\x04');
    viaHapi.pty.write('\x04');
    expect(await direct.exited).toBe(7);
    await viaHapi.exited;
    expect(viaHapi.raw()).toContain('hapi-exit=7');
    expect(ttyNormal(viaHapi.raw())).toBe(true);
    expect(viaHapi.term.buffer.active.type).toBe('normal');
  });

  it('the detach key leaves the session running and listed; the terminal is restored; hapi attach shows the same screen', async () => {
    const th = home();
    const t = hapiTerminal(th, ['--', '--exit-code', '3'], { report: true });
    await t.until('fixture tui');
    t.pty.write('hello');
    await t.until('got "hello"');
    const before = maskPid(await t.screen());
    t.pty.write('\x1c');
    await t.exited;
    expect(t.raw()).toContain('hapi-exit=0');
    const id = detachedId(t.raw());
    expect(id).toBeTruthy();
    // Raw mode off, output processing back on; the alternate screen, bracketed paste left.
    expect(ttyNormal(t.raw())).toBe(true);
    expect(t.term.buffer.active.type).toBe('normal');
    expect(t.term.modes.bracketedPasteMode).toBe(false);

    const listed = (await listJson(th)).find((s) => s.sessionId === id);
    expect(listed).toMatchObject({ startedBy: 'terminal', directory: th.home });
    expect(isAlive(listed!.pid)).toBe(true);
    expect((await th.cli(['screen', id!])).stdout).toContain('got "hello"');

    const again = hapiTerminal(th, ['attach', id!.slice(0, 8)]);
    await waitFor(async () => maskPid(await again.screen()) === before, 20_000, 'the same screen after attaching');
    again.pty.write('x');
    await again.until('got "x"');
    again.pty.write('\x04');
    // The session's exit code is hapi attach's.
    expect(await again.exited).toBe(3);
    expect(again.raw()).toContain(`[session ${id} ended: exit code 3]`);
    await waitFor(async () => !(await listJson(th)).some((s) => s.sessionId === id), 15_000, 'the session gone from the list');
  });

  it('closing the terminal (SIGHUP) leaves the session running; a killed agent gives 128+signal; an ended session still shows how it ended', async () => {
    const th = home();
    const t = hapiTerminal(th, []);
    await t.until('fixture tui');
    const listed = await waitFor(async () => (await listJson(th)).find((s) => s.startedBy === 'terminal'), 20_000, 'the session listed');
    t.pty.kill('SIGHUP');
    expect(await t.exited).toBe(0);
    expect(isAlive(listed.pid)).toBe(true);
    const sent = await th.cli(['send', listed.sessionId, 'still here']);
    expect(sent.code, sent.stderr).toBe(0);
    await waitFor(async () => (await th.cli(['screen', listed.sessionId])).stdout.includes('pasted "still here"'), 15_000, 'the session answers');

    // Attached again, the agent is killed: hapi attach exits 128 + SIGTERM.
    const again = hapiTerminal(th, ['attach', listed.sessionId]);
    await again.until('still here');
    const agentPid = Number(/pid=(\d+)/.exec(await again.screen())![1]);
    process.kill(agentPid, 'SIGTERM');
    expect(await again.exited).toBe(128 + 15);
    expect(again.raw()).toContain(`[session ${listed.sessionId} ended: killed by SIGTERM]`);

    // Ended: the runner keeps its final screen; hapi screen and hapi attach show how it ended.
    const ended = await waitFor(async () => {
      const r = await th.cli(['screen', listed.sessionId.slice(0, 8)]);
      return r.stderr.includes('ended') ? r : undefined;
    }, 15_000, 'the session kept as ended');
    expect(ended.code).toBe(0);
    expect(ended.stdout).toContain('pasted "still here"');
    expect(ended.stderr).toContain(`[session ${listed.sessionId} ended: killed by SIGTERM]`);
    const attachEnded = await th.cli(['attach', listed.sessionId]);
    expect(attachEnded.code).toBe(128 + 15);
    expect(attachEnded.stdout).toContain('pasted "still here"');
    expect(attachEnded.stderr).toContain('killed by SIGTERM');
    const send = await th.cli(['send', listed.sessionId, 'x']);
    expect(send.code).toBe(1);
    expect(send.stderr).toContain('has ended');
  });

  it('HAPI_DETACH_KEY sets another detach key (Ctrl-\\ then reaches the agent), none disables it; a bad value exits 2', async () => {
    const th = home();
    const t = hapiTerminal(th, [], { env: { HAPI_DETACH_KEY: '^]' } });
    await t.until('fixture tui');
    t.pty.write('\x1c');
    await t.until('got "\\u001c"');
    t.pty.write('\x1d');
    expect(await t.exited).toBe(0);
    const id = detachedId(t.raw())!;

    const none = hapiTerminal(th, ['attach', id], { env: { HAPI_DETACH_KEY: 'none' } });
    await none.until('fixture tui');
    // (The snapshot already shows the first session's keys: marked keys tell these apart.)
    none.pty.write('a\x1c');
    await none.until('got "a\\u001c"');
    none.pty.write('b\x1d');
    await none.until('got "b\\u001d"');
    none.pty.write('\x04');
    expect(await none.exited).toBe(0);

    const bad = hapiTerminal(th, [], { env: { HAPI_DETACH_KEY: 'ctrl-x' } });
    expect(await bad.exited).toBe(2);
    expect(bad.raw()).toContain('HAPI_DETACH_KEY must be a control key in caret notation');
    expect((await th.cli(['attach', id], { env: { HAPI_DETACH_KEY: '^' } })).code).toBe(2);
  });
});

describe('hapi in a terminal without a runner', () => {
  it('runs the session anyway, says so before attaching, and the session reports itself to a runner started later', async () => {
    const th = home({ HAPI_SESSION_REPORT_RETRY_MS: '100' });
    // The CLI's environment breaks runner start-up; the runner started below is fine.
    const t = hapiTerminal(th, [], { env: { HAPI_RUNNER_HEARTBEAT_INTERVAL: 'soon' } });
    await t.until('fixture tui');
    expect(t.raw()).toContain('hapi: runner not available');
    expect(t.raw().indexOf('hapi: runner not available')).toBeLessThan(t.raw().indexOf('fixture tui'));
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const listed = await waitFor(async () => (await listJson(th)).find((s) => s.startedBy === 'terminal'), 20_000, 'the late report');
    t.pty.write('\x1c');
    expect(await t.exited).toBe(0);
    expect(detachedId(t.raw())).toBe(listed.sessionId);
  });
});

describe('hapi attach', () => {
  /** A runner and two runner-spawned sessions of the fixture, in <home>/a and <home>/b. */
  async function twoSessions(th: TestHome): Promise<{ a: string; b: string }> {
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const channel = createUdsChannel(th.state()!.socketPath);
    closers.push(() => channel.close());
    const runner = createClient(RunnerServiceDefinition, channel);
    const ids: string[] = [];
    for (const dir of ['a', 'b']) {
      mkdirSync(join(th.home, dir));
      const r = await runner.spawnSession({
        spec: { directory: join(th.home, dir), agent: '', sessionId: `sess-${dir}`, approveCreateDirectory: false, requestId: '', agentArgs: [] },
      });
      expect(r.outcome?.result?.$case).toBe('session');
      await waitFor(() => statSync(sessionSocketPathFor(th.home, `sess-${dir}`, th.env), { throwIfNoEntry: false }), 15_000, 'session socket');
      ids.push(`sess-${dir}`);
    }
    return { a: ids[0]!, b: ids[1]! };
  }

  it('picks the session of this directory, else offers a list; read-only viewers cannot type; unknown sessions exit 4', async () => {
    const th = home();
    const { a, b } = await twoSessions(th);

    // In <home>/a: the one session there.
    const inA = hapiTerminal(th, ['attach'], { cwd: join(th.home, 'a') });
    await inA.until('fixture tui');
    inA.pty.write('from-a');
    await waitFor(async () => (await th.cli(['screen', a])).stdout.includes('got "from-a"'), 15_000, 'typed into session a');
    inA.pty.write('\x1c');
    expect(await inA.exited).toBe(0);
    expect(inA.raw()).toContain(`hapi attach ${a}]`);

    // In <home>: no session here. Without a terminal: the list, exit 2.
    const listed = await th.cli(['attach']);
    expect(listed.code).toBe(2);
    expect(listed.stdout).toContain(`1) ${a}`);
    expect(listed.stdout).toContain(`2) ${b}`);
    expect(listed.stderr).toContain('hapi attach <session>');
    // In a terminal: a numbered prompt; read-only there, so keys do not reach the agent.
    const chooser = hapiTerminal(th, ['attach', '--read-only']);
    await chooser.until('Attach to [1-2]: ');
    chooser.pty.write('2\r');
    await chooser.until('fixture tui');
    chooser.pty.write('typed-read-only');
    await th.cli(['send', b, 'marker']);
    await chooser.until('pasted "marker"');
    expect(chooser.raw()).not.toContain('typed-read-only"');
    expect((await th.cli(['screen', b])).stdout).not.toContain('typed-read-only');
    chooser.pty.write('\x1c');
    expect(await chooser.exited).toBe(0);

    for (const ref of ['no-such-session', 'PID-1']) {
      const r = await th.cli(['attach', ref]);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain(`no session '${ref}'`);
    }
  });

  it('with no live session at all: exit 4', async () => {
    const th = home();
    const r = await th.cli(['attach']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('no live session to attach to');
  });
});
