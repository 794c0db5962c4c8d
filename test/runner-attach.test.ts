// The runner's side of live sessions, through the built CLI, the real runner and real session
// processes running the fixture TUI (test/fixtures/tui-agent.mjs): AttachSession proxied to a
// session's socket, a viewer that survives a kill -9 of the runner (it attaches again with its
// last offset: no gap, no duplicate), ended sessions kept with their final screen and exit
// status, sessions without a terminal listed as not attachable, and the terminal figures in
// `runner list --json` / `runner status --json`. `npm run build` first.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ClientError, Status, createClient, type Channel } from 'nice-grpc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RunnerServiceDefinition, type AttachSessionRequest } from '../gen/hapi/runner/v1/runner.js';
import { StartedBy } from '../gen/hapi/common/v1/common.js';
import { AttachMode, type AttachRequest, type AttachResponse } from '../gen/hapi/session/v1/session.js';
import { createUdsChannel } from '../src/shared/grpc-channel.js';
import { sessionSocketPathFor } from '../src/shared/paths.js';
import { REPO_ROOT, cleanupAllHomes, createTestHome, isAlive, waitFor, type TestHome } from './harness.js';

const TUI_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'tui-agent.mjs');
const homes: TestHome[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  for (const th of homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

function runnerClient(th: TestHome) {
  const channel: Channel = createUdsChannel(th.state()!.socketPath);
  closers.push(() => channel.close());
  return createClient(RunnerServiceDefinition, channel);
}

async function startRunner(th: TestHome): Promise<void> {
  const r = await th.cli(['runner', 'start']);
  expect(r.code, r.stderr).toBe(0);
}

/** A runner and a session running the TUI fixture, spawned through it. */
async function liveSession(agentArgs: string[] = []) {
  const th = createTestHome({ HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${TUI_AGENT}` });
  homes.push(th);
  await startRunner(th);
  const r = await runnerClient(th).spawnSession({
    spec: { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs },
  });
  const id = r.outcome?.result?.$case === 'session' ? r.outcome.result.value.id : '';
  expect(id).toBeTruthy();
  await waitFor(() => statSync(sessionSocketPathFor(th.home, id, th.env), { throwIfNoEntry: false }), 15_000, 'session socket');
  await waitFor(async () => (await runnerClient(th).getSessionScreen({ sessionId: id })).screen?.text.includes('fixture tui'), 15_000, 'the agent on the screen');
  return { th, id };
}

/**
 * A viewer attached through the runner (AttachSession). The small reconnect logic a real client
 * has: `reattach()` opens a new stream with the offset just past the last output it holds.
 */
function runnerViewer(th: TestHome, sessionId: string, mode = AttachMode.ATTACH_MODE_INTERACTIVE) {
  const streams: { messages: AttachResponse[]; error?: unknown; done: boolean; reading: Promise<void> }[] = [];
  let pending: AttachRequest['kind'][] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const abort = new AbortController();
  closers.push(() => {
    closed = true;
    wake?.();
    abort.abort();
  });
  const all = () => streams.flatMap((s) => s.messages);
  /** Offset just past the last output (or snapshot) received. */
  const held = (): number | undefined => {
    for (const m of all().reverse()) {
      if (m.kind?.$case === 'output') return m.kind.value.offset + m.kind.value.data.length;
      if (m.kind?.$case === 'snapshot') return m.kind.value.offset;
    }
    return undefined;
  };
  function open(lastOffset?: number) {
    const mine = pending = [];
    async function* requests(): AsyncIterable<AttachSessionRequest> {
      yield { sessionId, request: { kind: { $case: 'hello', value: { mode, cols: 0, rows: 0, lastOffset, localTerminal: false } } } };
      while (!closed && pending === mine) {
        const next = mine.shift();
        if (next) yield { sessionId: '', request: { kind: next } };
        else await new Promise<void>((r) => (wake = r));
      }
    }
    const s = { messages: [] as AttachResponse[], error: undefined as unknown, done: false, reading: Promise.resolve() };
    s.reading = (async () => {
      try {
        for await (const r of runnerClient(th).attachSession(requests(), { signal: abort.signal })) s.messages.push(r.response!);
      } catch (err) {
        s.error = err;
      } finally {
        s.done = true;
      }
    })();
    streams.push(s);
    return s;
  }
  open();
  return {
    streams,
    current: () => streams.at(-1)!,
    reattach: () => open(held()),
    send(kind: AttachRequest['kind']) {
      pending.push(kind);
      wake?.();
    },
    text: (from = 0) =>
      Buffer.concat(streams.slice(from).flatMap((s) => s.messages.flatMap((m) => (m.kind?.$case === 'output' ? [Buffer.from(m.kind.value.data)] : [])))).toString('utf8'),
  };
}

const input = (s: string): AttachRequest['kind'] => ({ $case: 'input', value: { data: Buffer.from(s) } });
const outputs = (messages: AttachResponse[]) => messages.flatMap((m) => (m.kind?.$case === 'output' ? [m.kind.value] : []));

describe('the runner serves session terminals', () => {
  it('attach through the runner, type, see the answer; after a kill -9 of the runner the viewer comes back with no gap and no duplicate', async () => {
    const { th, id } = await liveSession();
    const v = runnerViewer(th, id);
    await waitFor(() => v.current().messages.length > 0, 10_000, 'the snapshot');
    expect(v.current().messages[0]!.kind?.$case).toBe('snapshot');
    v.send(input('a'));
    await waitFor(() => v.text().includes('got "a"'), 10_000, 'the echo through the runner');

    // Listed with its terminal: attachable, one viewer (this one), a time of last output.
    const listed = JSON.parse((await th.cli(['runner', 'list', '--json'])).stdout).sessions as Record<string, unknown>[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ sessionId: id, state: 'running', attachable: true, protocolVersion: 1, viewers: 1 });
    expect(Date.parse(listed[0]!.lastOutputAt as string)).toBeGreaterThan(0);
    const status = JSON.parse((await th.cli(['runner', 'status', '--json'])).stdout) as { sessions: Record<string, unknown>[] };
    expect(status.sessions).toHaveLength(1);
    expect(status.sessions[0]).toMatchObject({ sessionId: id, attachable: true, viewers: 1 });
    expect(status.sessions[0]!.lastOutputAt).toBeTruthy();

    const before = (await runnerClient(th).getSessionScreen({ sessionId: id })).screen!.text;
    const runnerPid = th.state()!.pid;
    process.kill(runnerPid, 'SIGKILL');
    await v.current().reading;
    expect((v.current().error as ClientError).code).toBe(Status.UNAVAILABLE);
    await waitFor(() => !isAlive(runnerPid), 10_000, 'the runner to die');
    // Output while no runner runs: the viewer must get it when it comes back (no gap).
    const sent = await th.cli(['send', id, 'b']);
    expect(sent.code, sent.stderr).toBe(0);

    await startRunner(th);
    const again = v.reattach();
    await waitFor(() => v.text(1).includes('pasted "b"'), 15_000, 'the catch-up through the new runner');
    v.send(input('c'));
    await waitFor(() => v.text(1).includes('got "c"'), 10_000, 'typing through the new runner');
    // Catch-up, not a snapshot: the first output starts exactly where the first stream stopped.
    expect(again.messages[0]!.kind?.$case).toBe('output');
    const first = outputs(v.streams[0]!.messages);
    const heldAt = first.at(-1)!.offset + first.at(-1)!.data.length;
    const resumed = outputs(again.messages);
    expect(resumed[0]!.offset).toBe(heldAt);
    for (let i = 1; i < resumed.length; i++) expect(resumed[i]!.offset).toBe(resumed[i - 1]!.offset + resumed[i - 1]!.data.length);
    expect(v.text(1)).not.toContain('got "a"');
    expect(v.text().match(/pasted "b"/g)).toHaveLength(1);
    // The same screen as before the crash, plus what came since.
    const after = (await runnerClient(th).getSessionScreen({ sessionId: id })).screen!.text;
    expect(after.startsWith(before.trimEnd())).toBe(true);
    expect(after).toContain('got "c"');
  }, 90_000);

  it('keeps an ended session: its final screen and exit status through GetSessionScreen and AttachSession, also after a runner restart', async () => {
    const { th, id } = await liveSession(['--exit-code', '7']);
    const v = runnerViewer(th, id);
    await waitFor(() => v.current().messages.length > 0, 10_000, 'the snapshot');
    v.send({ $case: 'resize', value: { cols: 90, rows: 20 } });
    await waitFor(() => v.text().includes('size 90x20'), 10_000, 'the resize');
    v.send(input('\x04'));
    await v.current().reading;
    expect(v.current().error).toBeUndefined();
    const exited = v.current().messages.at(-1)!.kind;
    expect(exited?.$case === 'exited' && exited.value.status?.exitCode).toBe(7);
    await waitFor(async () => JSON.parse((await th.cli(['runner', 'list', '--json'])).stdout).sessions.length === 0, 15_000, 'the session to end');

    for (let round = 0; round < 2; round++) {
      const screen = await runnerClient(th).getSessionScreen({ sessionId: id });
      expect(screen).toMatchObject({ ended: true, exitStatus: { exitCode: 7, exitSignal: '' } });
      // The final screen the session sent (it left the alternate screen; its size was 90x20).
      expect(screen.screen).toMatchObject({ cols: 90, rows: 20 });
      expect(screen.screen!.offset).toBeGreaterThan(0);
      expect(screen.endedAt).toBeInstanceOf(Date);
      const late = runnerViewer(th, id, AttachMode.ATTACH_MODE_READ_ONLY);
      await late.current().reading;
      expect(late.current().error).toBeUndefined();
      expect(late.current().messages.map((m) => m.kind?.$case)).toEqual(['snapshot', 'exited']);
      const snap = late.current().messages[0]!.kind;
      expect(snap?.$case === 'snapshot' && [snap.value.cols, snap.value.rows]).toEqual([90, 20]);
      const listed = JSON.parse((await th.cli(['runner', 'list', '--json', '--all'])).stdout).sessions as Record<string, unknown>[];
      expect(listed).toEqual([expect.objectContaining({ sessionId: id, state: 'ended', exitCode: 7, attachable: true, viewers: 0 })]);
      // Kept on disk: a new runner still shows it.
      const stop = await th.cli(['runner', 'stop']);
      expect(stop.code, stop.stderr).toBe(0);
      await startRunner(th);
    }
    const shown = await th.cli(['runner', 'list', '--all']);
    expect(shown.stdout).toContain(`Session: ${id}`);
    expect(shown.stdout).toContain('Ended: exit code 7');
  }, 90_000);

  it('a stopped session keeps the screen it was showing, with its signal', async () => {
    const { th, id } = await liveSession();
    await th.cli(['send', id, 'last words']);
    await waitFor(async () => (await runnerClient(th).getSessionScreen({ sessionId: id })).screen?.text.includes('pasted "last words"'), 10_000, 'the echo');
    const stopped = await th.cli(['runner', 'stop-session', id]);
    expect(stopped.code, stopped.stderr).toBe(0);
    const screen = await waitFor(async () => {
      const s = await runnerClient(th).getSessionScreen({ sessionId: id });
      return s.ended && s.screen ? s : undefined;
    }, 15_000, 'the kept final screen');
    expect(screen.screen!.text).toContain('pasted "last words"');
    expect(screen.exitStatus?.exitSignal || screen.exitStatus?.exitCode !== undefined).toBeTruthy();
  }, 60_000);

  it('a session without a terminal is listed as not attachable, kept across a restart, and refused with FAILED_PRECONDITION', async () => {
    const th = createTestHome();
    homes.push(th);
    await startRunner(th);
    // A session as a hapi older than live sessions runs it: a process that reports itself, with no socket.
    const old = spawn('sh', ['-c', 'sleep 3600; :', 'sh', '--hapi-session-id', 'old-session'], { env: th.env, detached: true, stdio: 'ignore' });
    closers.push(() => old.kill('SIGKILL'));
    await runnerClient(th).sessionStarted({
      sessionId: 'old-session',
      metadata: { hostPid: old.pid!, startedBy: StartedBy.STARTED_BY_TERMINAL, directory: th.home, agent: 'claude', startedAt: new Date() },
    });
    for (let round = 0; round < 2; round++) {
      const listed = JSON.parse((await th.cli(['runner', 'list', '--json'])).stdout).sessions as Record<string, unknown>[];
      expect(listed).toEqual([expect.objectContaining({ sessionId: 'old-session', state: 'running', attachable: false, protocolVersion: 0, viewers: 0, lastOutputAt: null })]);
      const v = runnerViewer(th, 'old-session');
      await v.current().reading;
      expect((v.current().error as ClientError).code).toBe(Status.FAILED_PRECONDITION);
      await expect(runnerClient(th).getSessionScreen({ sessionId: 'old-session' })).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION });
      const unknown = runnerViewer(th, 'no-such-session');
      await unknown.current().reading;
      expect((unknown.current().error as ClientError).code).toBe(Status.NOT_FOUND);
      // A crash of the runner: re-adopted, still listed (never dropped).
      process.kill(th.state()!.pid, 'SIGKILL');
      await waitFor(() => !isAlive(th.state()!.pid), 10_000, 'the runner to die');
      await startRunner(th);
    }
    const bad = runnerClient(th).attachSession(
      (async function* () {
        yield { sessionId: 'old-session', request: { kind: { $case: 'input', value: { data: Buffer.from('x') } } } } as AttachSessionRequest;
      })(),
    );
    await expect((async () => {
      for await (const _ of bad) void _;
    })()).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
  }, 90_000);
});
