/**
 * Helpers for live terminals through the hub: a hub process, a real runner linked to it, a
 * session of the fixture TUI agent spawned through the hub, and a HubService.AttachSession
 * viewer with the reconnect logic a real client has (attach again with the offset just past the
 * last output held).
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { AttachMode, type AttachRequest, type AttachResponse } from '../gen/hapi/session/v1/session.js';
import type { AttachSessionRequest } from '../gen/hapi/hub/v1/hub.js';
import type { HubClients } from '../src/shared/hub-client.js';
import { REPO_ROOT, createTestHome, waitFor, type TestHome } from './harness.js';
import { machineIdOf } from './runner-calls.js';
import { startHubProcess, waitMachine, type HubProcess } from './hub-helpers.js';

export const TUI_AGENT = join(REPO_ROOT, 'test', 'fixtures', 'tui-agent.mjs');

export interface Tracked {
  homes: TestHome[];
  hubs: HubProcess[];
  closers: (() => void)[];
}

/** A runner home linked to `h` with `token`, running the TUI fixture as its default agent. */
export async function linkedRunner(t: Tracked, h: HubProcess, env: NodeJS.ProcessEnv = {}) {
  const th = createTestHome({ HAPI_API_URL: h.grpcUrl, CLI_API_TOKEN: h.ownerToken, HAPI_AGENT_CLAUDE_COMMAND: `${process.execPath} ${TUI_AGENT}`, ...env });
  t.homes.push(th);
  const r = await th.cli(['runner', 'start']);
  expect(r.code, r.stderr).toBe(0);
  return { th, machineId: await machineIdOf(th.home) };
}

/** Hub + linked runner + a TUI session spawned through the hub, showing its title. */
export async function hubSession(t: Tracked, hubEnv: NodeJS.ProcessEnv = {}, agentArgs: string[] = []) {
  const hubHome = createTestHome();
  t.homes.push(hubHome);
  const h = await startHubProcess(hubHome, hubEnv);
  t.hubs.push(h);
  const { th, machineId } = await linkedRunner(t, h);
  const c = h.clients();
  await waitMachine(c, machineId, (m) => m.online);
  const spawned = await c.hub.spawnSession({ machineId, spec: { directory: th.home, agent: '', sessionId: '', approveCreateDirectory: false, requestId: '', agentArgs } });
  const sessionId = spawned.outcome?.result?.$case === 'session' ? spawned.outcome.result.value.id : '';
  expect(sessionId).toBeTruthy();
  await waitFor(async () => {
    try {
      return (await c.hub.getSessionScreen({ machineId, sessionId })).screen?.screen?.text.includes('fixture tui');
    } catch {
      return false;
    }
  }, 20_000, 'the agent on the screen');
  return { hubHome, h, th, c, machineId, sessionId };
}

export const input = (s: string): AttachRequest['kind'] => ({ $case: 'input', value: { data: Buffer.from(s) } });

/** A viewer through the hub; `reattach()` opens a new stream from the offset it holds. */
export function hubViewer(t: Tracked, clients: () => HubClients, machineId: string, sessionId: string, mode = AttachMode.ATTACH_MODE_INTERACTIVE) {
  const streams: { messages: AttachResponse[]; error?: unknown; done: boolean; reading: Promise<void> }[] = [];
  let pending: AttachRequest['kind'][] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const abort = new AbortController();
  t.closers.push(() => {
    closed = true;
    wake?.();
    abort.abort();
  });
  const all = () => streams.flatMap((s) => s.messages);
  const held = (): number | undefined => {
    for (const m of all().reverse()) {
      if (m.kind?.$case === 'output') return m.kind.value.offset + m.kind.value.data.length;
      if (m.kind?.$case === 'snapshot') return m.kind.value.offset;
    }
    return undefined;
  };
  function open(lastOffset?: number) {
    const mine = (pending = []);
    async function* requests(): AsyncIterable<AttachSessionRequest> {
      yield { machineId, sessionId, request: { kind: { $case: 'hello', value: { mode, cols: 0, rows: 0, lastOffset, localTerminal: false } } } };
      while (!closed && pending === mine) {
        const next = mine.shift();
        if (next) yield { machineId: '', sessionId: '', request: { kind: next } };
        else await new Promise<void>((r) => (wake = r));
      }
    }
    const s = { messages: [] as AttachResponse[], error: undefined as unknown, done: false, reading: Promise.resolve() };
    s.reading = (async () => {
      try {
        for await (const r of clients().hub.attachSession(requests(), { signal: abort.signal })) s.messages.push(r.response!);
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
    held,
    reattach: () => open(held()),
    send(kind: AttachRequest['kind']) {
      pending.push(kind);
      wake?.();
    },
    /** Output text of the streams from `from` on. */
    text: (from = 0) =>
      Buffer.concat(streams.slice(from).flatMap((s) => s.messages.flatMap((m) => (m.kind?.$case === 'output' ? [Buffer.from(m.kind.value.data)] : [])))).toString('utf8'),
    /** Every output chunk's [offset, end) in order, across streams. */
    ranges: () => all().flatMap((m) => (m.kind?.$case === 'output' ? [[m.kind.value.offset, m.kind.value.offset + m.kind.value.data.length] as const] : [])),
  };
}
