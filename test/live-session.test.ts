// A runner-spawned session's terminal through the built CLI, the real runner and the session
// process's own socket: `hapi send` / `hapi screen`, viewers over Attach (read-only, reconnect
// with an offset, a stalled viewer), bad messages, the exit. The agent is the fixture TUI
// (test/fixtures/tui-agent.mjs). `npm run build` first.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClientError, Status, createClient } from 'nice-grpc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RunnerServiceDefinition } from '../gen/hapi/runner/v1/runner.js';
import { AttachMode, SessionServiceDefinition, type AttachRequest, type AttachResponse } from '../gen/hapi/session/v1/session.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { sessionSocketPathFor } from '../src/shared/paths.js';
import { REPO_ROOT, cleanupAllHomes, createTestHome, waitFor, type TestHome } from './harness.js';

const TUI_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'tui-agent.mjs');
const homes: TestHome[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  for (const th of homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

interface Live {
  th: TestHome;
  id: string;
  socket: string;
  client: ReturnType<typeof createClient<typeof SessionServiceDefinition>>;
}

/** A runner and one session running the TUI fixture, with a SessionService client. */
async function liveSession(agentArgs: string[] = [], env: Record<string, string> = {}): Promise<Live> {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${TUI_AGENT}`, ...env });
  homes.push(th);
  const started = await th.cli(['runner', 'start']);
  expect(started.code, started.stderr).toBe(0);
  const runnerChannel = createUdsChannel(th.state()!.socketPath);
  closers.push(() => runnerChannel.close());
  const r = await createClient(RunnerServiceDefinition, runnerChannel).spawnSession({
    spec: { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs },
  });
  const session = r.outcome?.result?.$case === 'session' ? r.outcome.result.value : undefined;
  expect(session?.id).toBeTruthy();
  const socket = sessionSocketPathFor(th.home, session!.id, th.env);
  await waitFor(() => statSync(socket, { throwIfNoEntry: false }), 15_000, 'session socket');
  const channel = createUdsChannel(socket);
  closers.push(() => channel.close());
  const client = createClient(SessionServiceDefinition, channel);
  // The agent is up (and reads keys) once its title is on the screen.
  await waitFor(async () => (await client.getScreen({})).text.includes('fixture tui'), 15_000, 'the agent on the screen');
  return { th, id: session!.id, socket, client };
}

/** A viewer over Attach: its requests are pushed with send(); what arrives is collected. */
function viewer(live: Live, hello: { mode: AttachMode; lastOffset?: number; cols?: number; rows?: number }, opts: { read?: boolean; keep?: boolean } = {}) {
  const pending: AttachRequest[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const abort = new AbortController();
  async function* requests(): AsyncIterable<AttachRequest> {
    yield { kind: { $case: 'hello', value: { cols: 0, rows: 0, localTerminal: false, ...hello } } };
    while (!ended) {
      const next = pending.shift();
      if (next) yield next;
      else await new Promise<void>((r) => (wake = r));
    }
  }
  const messages: AttachResponse[] = [];
  const stream = live.client.attach(requests(), { signal: abort.signal });
  const iterator = stream[Symbol.asyncIterator]();
  const state = { messages, error: undefined as unknown, done: false, received: 0, snapshots: 0, gaps: 0 };
  // keep: false: nothing is kept but the tail; flood lines are counted and checked as they come.
  const lines = { count: 0, outOfOrder: 0, partial: '' };
  let tailText = '';
  let next: number | undefined;
  const take = (m: AttachResponse) => {
    state.received++;
    if (m.kind?.$case === 'snapshot') {
      state.snapshots++;
      next = m.kind.value.offset;
    } else if (m.kind?.$case === 'output') {
      const { offset, data } = m.kind.value;
      if (next !== undefined && offset !== next) state.gaps++;
      next = offset + data.length;
      const text = lines.partial + Buffer.from(data).toString('latin1');
      const cut = text.lastIndexOf('\n') + 1;
      for (const match of text.slice(0, cut).matchAll(/flood (\d{8})/g)) {
        if (Number(match[1]) !== lines.count) lines.outOfOrder++;
        lines.count++;
      }
      lines.partial = text.slice(cut);
      tailText = (tailText + Buffer.from(data).toString('latin1')).slice(-512);
    }
    if (opts.keep !== false) messages.push(m);
  };
  const reading = (async () => {
    try {
      if (opts.read === false) {
        // A stalled viewer: takes its first message and never reads again.
        const first = await iterator.next();
        if (!first.done) take(first.value);
        await new Promise(() => {});
      }
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) take(r.value);
    } catch (err) {
      state.error = err;
    } finally {
      state.done = true;
    }
  })();
  const close = () => {
    ended = true;
    wake?.();
    abort.abort();
  };
  closers.push(close);
  return {
    state,
    reading,
    send(req: AttachRequest['kind']) {
      pending.push({ kind: req });
      wake?.();
    },
    lines,
    /** The last output received (512 bytes), as text: cheap enough to poll during a flood. */
    tail: () => tailText,
    /** The output bytes received, as text. */
    text: () => Buffer.concat(messages.flatMap((m) => (m.kind?.$case === 'output' ? [Buffer.from(m.kind.value.data)] : []))).toString('utf8'),
    close,
  };
}

const input = (s: string): AttachRequest['kind'] => ({ $case: 'input', value: { data: Buffer.from(s) } });

describe('runner-spawned sessions run in a terminal of their own', () => {
  it('`hapi send` then `hapi screen` round trip shows the echoed input; an unknown session exits 4', async () => {
    const live = await liveSession();
    const { th } = live;
    expect((await th.cli(['screen', live.id])).stdout).toContain('fixture tui');
    // The session process runs with its small young generation (src/shared/node-flags.ts); its
    // agent, a node program here, does not inherit it.
    const { pid } = await live.client.getInfo({});
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv.slice(1, argv.findIndex((a) => a.endsWith('hapi.cjs')))).toEqual(['--max-semi-space-size=2', '--expose-gc']);
    const agent = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').map(Number)[0]!;
    expect(readFileSync(`/proc/${agent}/cmdline`, 'utf8')).not.toMatch(/semi-space|expose-gc/);
    // Its malloc tuning (node-flags.ts) is the session process's own too.
    const environ = (p: number) => readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
    expect(environ(pid)).toContain('MALLOC_MMAP_THRESHOLD_=65536');
    expect(environ(agent).filter((v) => /^(MALLOC_MMAP_THRESHOLD_|HAPI_SESSION_OWN_ENV)=/.test(v))).toEqual([]);
    const sent = await th.cli(['send', live.id, 'hello there', '--enter']);
    expect(sent.code, sent.stderr).toBe(0);
    // The fixture enabled bracketed paste, so the text arrives as one paste, then Enter.
    const screen = await waitFor(async () => {
      const r = await th.cli(['screen', live.id.slice(0, 8)]);
      return r.stdout.includes('got "\\r"') ? r.stdout : undefined;
    }, 15_000, 'echo on the screen');
    expect(screen).toContain('pasted "hello there"');
    expect(screen).toContain('size 120x40');
    const ansi = await th.cli(['screen', live.id, '--ansi']);
    expect(ansi.stdout).toMatch(/\x1b\[[0-9;]*m/);

    for (const args of [['screen', 'no-such-session'], ['send', 'no-such-session', 'x']]) {
      const r = await th.cli(args);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain("no session 'no-such-session'");
    }
    const info = await live.client.getInfo({});
    expect(info).toMatchObject({ id: live.id, agent: 'claude', directory: th.home, startedBy: 'runner', cols: 120, rows: 40, protocolVersion: 1, viewers: 0 });
    expect(info.lastOutputAt).toBeInstanceOf(Date);
  });

  it('serves two viewers; a read-only one sees the same output and its input is refused', async () => {
    const live = await liveSession();
    const typist = viewer(live, { mode: AttachMode.ATTACH_MODE_INTERACTIVE, cols: 100, rows: 30 });
    const watcher = viewer(live, { mode: AttachMode.ATTACH_MODE_READ_ONLY });
    await waitFor(() => watcher.state.messages.length > 0, 10_000, 'watcher snapshot');
    expect(watcher.state.messages[0]!.kind?.$case).toBe('snapshot');
    typist.send(input('x'));
    await waitFor(() => watcher.text().includes('got "x"'), 10_000, 'the watcher sees the typing');
    // The interactive viewer's size became the terminal's size.
    await waitFor(async () => (await live.client.getScreen({})).text.includes('size 100x30'), 10_000, 'resize reached the agent');
    expect((await live.client.getInfo({})).viewers).toBe(2);

    watcher.send(input('y'));
    await watcher.reading;
    expect(watcher.state.error).toBeInstanceOf(ClientError);
    expect((watcher.state.error as ClientError).code).toBe(Status.PERMISSION_DENIED);
    typist.send(input('z'));
    await waitFor(() => typist.text().includes('got "z"'), 10_000, 'the typist goes on');
    expect(typist.text()).not.toContain('got "y"');
  });

  it('a viewer that reconnects with its offset gets exactly what came after it', async () => {
    const live = await liveSession();
    const first = viewer(live, { mode: AttachMode.ATTACH_MODE_INTERACTIVE });
    // Typed after the snapshot, the echo comes as output (typed before, it may be in the snapshot).
    await waitFor(() => first.state.messages.length > 0, 10_000, 'snapshot');
    first.send(input('a'));
    await waitFor(() => first.text().includes('got "a"'), 10_000, 'first echo');
    first.close();
    await first.reading;
    const outputs = first.state.messages.flatMap((m) => (m.kind?.$case === 'output' ? [m.kind.value] : []));
    const last = outputs.at(-1)!;
    const held = last.offset + last.data.length;

    await live.th.cli(['send', live.id, 'b']);
    const again = viewer(live, { mode: AttachMode.ATTACH_MODE_INTERACTIVE, lastOffset: held });
    await waitFor(() => again.text().includes('pasted "b"'), 10_000, 'catch-up');
    again.send(input('c'));
    await waitFor(() => again.text().includes('got "c"'), 10_000, 'echo after the reconnect');
    const resumed = again.state.messages.flatMap((m) => (m.kind?.$case === 'output' ? [m.kind.value] : []));
    expect(again.state.messages[0]!.kind?.$case).toBe('output');
    expect(resumed[0]!.offset).toBe(held);
    for (let i = 1; i < resumed.length; i++) expect(resumed[i]!.offset).toBe(resumed[i - 1]!.offset + resumed[i - 1]!.data.length);
    const text = again.text();
    expect(text).not.toContain('got "a"');
    expect(text.match(/pasted "b"/g)).toHaveLength(1);
  });

  it('a stalled viewer blocks neither the agent nor a second viewer, which receives all 50 MB in order', async () => {
    const FLOOD = 50_000_000;
    // A reader on a busy machine may lag a few MB behind a flood; past its window it would get
    // a snapshot instead of the backlog (by design). The window here is large enough that it
    // receives every byte, as the issue asks; the stalled viewer is far past it either way.
    const live = await liveSession(['--flood', String(FLOOD)], { HAPI_SESSION_RING_BYTES: String(64 << 20), HAPI_SESSION_VIEWER_WINDOW_BYTES: String(48 << 20) });
    const stalled = viewer(live, { mode: AttachMode.ATTACH_MODE_READ_ONLY }, { read: false });
    await waitFor(() => stalled.state.messages.length > 0, 10_000, 'stalled viewer attached');
    // 50 MB kept as messages would be 50 MB of Buffers in this process: the reader checks the
    // order as it goes (every output chunk starts where the last ended) and keeps only the count
    // of lines, their numbers checked in sequence across chunk boundaries.
    const reader = viewer(live, { mode: AttachMode.ATTACH_MODE_INTERACTIVE }, { keep: false });
    await waitFor(() => reader.state.received > 0, 10_000, 'reader attached');
    reader.send(input('F'));
    await waitFor(() => reader.tail().includes('flood done'), 240_000, 'the flood to reach the reader');
    expect(reader.state.snapshots).toBe(1);
    expect(reader.state.gaps).toBe(0);
    const total = Math.ceil(FLOOD / 80);
    expect(reader.lines.count).toBe(total);
    expect(reader.lines.outOfOrder).toBe(0);
    // The agent went on too: it still answers.
    await live.th.cli(['send', live.id, 'q']);
    await waitFor(async () => (await live.th.cli(['screen', live.id])).stdout.includes('pasted "q"'), 15_000, 'agent answers after the flood');
  }, 300_000);

  it('serves a viewer that connects as soon as the spawn returns; caps and rotates the session log', async () => {
    const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${TUI_AGENT} --flood 1000000`, HAPI_SESSION_LOG_MAX_BYTES: '65536' });
    homes.push(th);
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    const runnerChannel = createUdsChannel(th.state()!.socketPath);
    closers.push(() => runnerChannel.close());
    const r = await createClient(RunnerServiceDefinition, runnerChannel).spawnSession({
      spec: { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs: [] },
    });
    const id = r.outcome?.result?.$case === 'session' ? r.outcome.result.value.id : '';
    // No wait for the socket: it listens before the session reports itself (the gRPC server
    // loads after; the connection is held until then).
    const socket = sessionSocketPathFor(th.home, id, th.env);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const channel = createUdsChannel(socket);
    closers.push(() => channel.close());
    const client = createClient(SessionServiceDefinition, channel);
    expect((await client.getInfo({})).id).toBe(id);
    const live: Live = { th, id, socket, client };
    const watcher = viewer(live, { mode: AttachMode.ATTACH_MODE_READ_ONLY }, { keep: false });
    await waitFor(() => watcher.state.received > 0, 10_000, 'watcher snapshot');
    await client.sendInput({ data: Buffer.from('F'), text: '', enter: false });
    await waitFor(() => watcher.tail().includes('flood done'), 60_000, 'the flood');
    // 1 MB of output went through a log capped at 64 KiB: one rotated file, nothing more. The
    // log is written in the background (batches of up to 64 KiB): it may still be catching up.
    const log = join(th.home, 'logs', 'sessions', `${id}.log`);
    await waitFor(() => statSync(log).size < 65_536 + 8192, 10_000, 'the log to be written and rotated');
    expect(statSync(`${log}.1`).size).toBeGreaterThanOrEqual(65_536);
    // At most a batch past the cap when it was copied aside (and a few notes).
    expect(statSync(`${log}.1`).size).toBeLessThan(65_536 + 65_536 + 8192);
    expect(readdirSync(join(th.home, 'logs', 'sessions')).filter((f) => f.startsWith(id)).sort()).toEqual([`${id}.log`, `${id}.log.1`]);
  });

  it('answers bad messages with INVALID_ARGUMENT and keeps running; viewers see the exit status', async () => {
    const live = await liveSession(['--exit-code', '7']);
    const bad = viewer(live, { mode: AttachMode.ATTACH_MODE_UNSPECIFIED });
    await bad.reading;
    expect((bad.state.error as ClientError).code).toBe(Status.INVALID_ARGUMENT);
    const twice = viewer(live, { mode: AttachMode.ATTACH_MODE_INTERACTIVE });
    twice.send({ $case: 'hello', value: { mode: AttachMode.ATTACH_MODE_INTERACTIVE, cols: 0, rows: 0, localTerminal: false } });
    await twice.reading;
    expect((twice.state.error as ClientError).code).toBe(Status.INVALID_ARGUMENT);
    const badResize = viewer(live, { mode: AttachMode.ATTACH_MODE_INTERACTIVE });
    badResize.send({ $case: 'resize', value: { cols: 0, rows: 5000 } });
    await badResize.reading;
    expect((badResize.state.error as ClientError).code).toBe(Status.INVALID_ARGUMENT);
    for (const call of [() => live.client.sendInput({ data: Buffer.alloc(0), text: '', enter: false }), () => live.client.resize({ cols: 0, rows: 0 })]) {
      await expect(call()).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
    }
    expect((await live.client.getInfo({})).id).toBe(live.id);

    const watcher = viewer(live, { mode: AttachMode.ATTACH_MODE_READ_ONLY });
    await waitFor(() => watcher.state.messages.length > 0, 10_000, 'watcher snapshot');
    await live.client.resize({ cols: 90, rows: 20 });
    await waitFor(() => watcher.text().includes('size 90x20'), 10_000, 'resize reached the agent');
    await live.client.sendInput({ data: Buffer.from([4]), text: '', enter: false });
    await watcher.reading;
    expect(watcher.state.error).toBeUndefined();
    const exited = watcher.state.messages.at(-1)!.kind;
    expect(exited?.$case === 'exited' && exited.value.status?.exitCode).toBe(7);
    // The raw output still goes to the session log, 0600.
    const logs = join(live.th.home, 'logs', 'sessions');
    const logFile = await waitFor(() => {
      return readdirSync(logs).find((f) => f.includes(live.id));
    });
    expect(statSync(join(logs, logFile)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(logs, logFile), 'utf8')).toContain('got "\\u0004"');
  });

  // Linux with autogroup scheduling: each process session shares the CPU equally, whatever the nice values.
  it.skipIf(!existsSync('/proc/self/autogroup'))('the session process lowers its own CPU share (its autogroup) below the runner’s; its agent keeps the default', async () => {
    const live = await liveSession();
    const { pid } = await live.client.getInfo({});
    const autogroup = (p: number) => readFileSync(`/proc/${p}/autogroup`, 'utf8');
    await waitFor(() => autogroup(pid).includes('nice 10'), 10_000, 'the session’s autogroup at nice 10');
    expect(autogroup(live.th.state()!.pid)).toContain('nice 0');
    // The agent: the session's child (node-pty put it in a process session of its own).
    const agent = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).find((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    });
    expect(agent).toBeDefined();
    expect(autogroup(Number(agent))).toContain('nice 0');
  });
});
