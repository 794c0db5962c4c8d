// The hub's WebSocket attach endpoint (the protocol in the README), with a real hub, runner and
// session of the fixture TUI: a foreign Origin is refused before the upgrade, the page's cookie
// works, a one-time ticket works once, output comes as binary frames with absolute offsets, a
// hub restart with a viewer attached ends with the viewer resuming from its last offset (no gap,
// no duplicate), and a stalled viewer does not stall a second one. `npm run build` first.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { cleanupAllHomes, isAlive, waitFor } from './harness.js';
import { startHubProcess, waitMachine } from './hub-helpers.js';
import { hubSession, type Tracked } from './hub-viewer.js';

const t: Tracked = { homes: [], hubs: [], closers: [] };
afterEach(async () => {
  for (const close of t.closers.splice(0)) close();
  for (const h of t.hubs.splice(0)) await h.stop('SIGKILL').catch(() => undefined);
  for (const th of t.homes.splice(0)) await th.cleanup();
});
afterAll(cleanupAllHomes);

/** Signs in like the page: the cookie and the CSRF token. */
async function signIn(httpUrl: string, token: string) {
  const res = await fetch(`${httpUrl}/auth/login`, { method: 'POST', headers: { origin: httpUrl, 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie, csrfToken };
}

interface WsViewerOptions {
  cookie?: string;
  origin?: string;
  ticket?: string;
  mode?: 'interactive' | 'read-only';
  lastOffset?: number;
  /** Stop reading the socket after the first frame (a stalled phone). */
  stall?: boolean;
}

/** A WebSocket viewer that records every frame. */
function wsViewer(httpUrl: string, machineId: string, sessionId: string, o: WsViewerOptions = {}) {
  const url = `${httpUrl.replace(/^http/, 'ws')}/api/v1/machines/${machineId}/sessions/${sessionId}/attach${o.ticket ? `?ticket=${o.ticket}` : ''}`;
  const ws = new WebSocket(url, { headers: { ...(o.origin !== undefined ? { origin: o.origin } : { origin: httpUrl }), ...(o.cookie ? { cookie: o.cookie } : {}) } });
  t.closers.push(() => ws.terminate());
  const texts: any[] = [];
  const outputs: { offset: number; data: Buffer }[] = [];
  let tail = '';
  let closeCode: number | undefined;
  let httpStatus: number | undefined;
  const closed = new Promise<number>((resolve) => {
    ws.on('close', (code) => resolve((closeCode = code)));
    ws.on('error', () => resolve((closeCode = -1)));
    ws.on('unexpected-response', (_req, res) => {
      httpStatus = res.statusCode;
      resolve((closeCode = -1));
    });
  });
  ws.on('open', () => {
    ws.send(JSON.stringify({ type: 'hello', mode: o.mode ?? 'interactive', cols: 100, rows: 30, ...(o.lastOffset !== undefined ? { lastOffset: String(o.lastOffset) } : {}) }));
  });
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) {
      outputs.push({ offset: Number(data.readBigUInt64BE(0)), data: data.subarray(8) });
      tail = (tail + data.subarray(Math.max(8, data.length - 200)).toString('latin1')).slice(-200);
    }
    else texts.push(JSON.parse(data.toString('utf8')));
    if (o.stall && texts.length + outputs.length === 1) (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  });
  return {
    ws,
    texts,
    outputs,
    closed,
    closeCode: () => closeCode,
    /** The last 200 characters of output (cheap to poll during a flood). */
    tail: () => tail,
    httpStatus: () => httpStatus,
    text: () => Buffer.concat(outputs.map((x) => x.data)).toString('utf8'),
    /** Offset just past the last output (or the snapshot). */
    held: (): number | undefined => {
      const last = outputs.at(-1);
      if (last) return last.offset + last.data.length;
      const snap = texts.filter((x) => x.type === 'snapshot').at(-1);
      return snap ? Number(snap.offset) : undefined;
    },
    type: (s: string) => ws.send(Buffer.from(s)),
  };
}

const contiguous = (outputs: { offset: number; data: Buffer }[]) => outputs.every((x, i) => i === 0 || x.offset === outputs[i - 1]!.offset + outputs[i - 1]!.data.length);

describe('the hub’s WebSocket attach endpoint', () => {
  it('refuses a foreign Origin; the cookie works; a ticket works once; output is binary with offsets', async () => {
    const { h, machineId, sessionId } = await hubSession(t);
    const { cookie, csrfToken } = await signIn(h.httpUrl, h.ownerToken);

    const foreign = wsViewer(h.httpUrl, machineId, sessionId, { cookie, origin: 'https://evil.example' });
    await foreign.closed;
    expect(foreign.httpStatus()).toBe(403);
    const anonymous = wsViewer(h.httpUrl, machineId, sessionId);
    expect(await anonymous.closed).toBe(4401);

    const v = wsViewer(h.httpUrl, machineId, sessionId, { cookie });
    await waitFor(() => v.texts.find((x) => x.type === 'snapshot'), 10_000, 'the snapshot');
    const snap = v.texts.find((x) => x.type === 'snapshot');
    expect(snap).toMatchObject({ cols: 100, rows: 30, cursor: { x: expect.any(Number), y: expect.any(Number) } });
    expect(snap.screen).toContain('fixture tui');
    v.type('a');
    await waitFor(() => v.text().includes('got "a"'), 10_000, 'the echo');
    expect(v.outputs[0]!.offset).toBe(Number(snap.offset));
    expect(contiguous(v.outputs)).toBe(true);
    v.ws.send(JSON.stringify({ type: 'input', text: 'composed', paste: true, enter: true }));
    await waitFor(() => v.text().includes('pasted "composed"'), 10_000, 'the composer paste');

    // A ticket needs the CSRF token, and is good for one upgrade.
    const noCsrf = await fetch(`${h.httpUrl}/api/v1/attach-tickets`, { method: 'POST', headers: { origin: h.httpUrl, cookie, 'content-type': 'application/json' }, body: JSON.stringify({ machineId, sessionId }) });
    expect(noCsrf.status).toBe(403);
    const issued = await fetch(`${h.httpUrl}/api/v1/attach-tickets`, {
      method: 'POST',
      headers: { origin: h.httpUrl, cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
      body: JSON.stringify({ machineId, sessionId }),
    });
    expect(issued.status).toBe(200);
    const { ticket } = (await issued.json()) as { ticket: string };
    const byTicket = wsViewer(h.httpUrl, machineId, sessionId, { ticket, mode: 'read-only' });
    await waitFor(() => byTicket.texts.find((x) => x.type === 'snapshot'), 10_000, 'the snapshot by ticket');
    byTicket.type('x');
    expect(await byTicket.closed).toBe(4403);
    expect(byTicket.texts.at(-1)).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
    const again = wsViewer(h.httpUrl, machineId, sessionId, { ticket });
    expect(await again.closed).toBe(4401);
    const unknown = wsViewer(h.httpUrl, machineId, 'no-such-session', { cookie });
    expect(await unknown.closed).toBe(4404);
    expect(v.closeCode()).toBeUndefined();
  });

  it('hub restart with a viewer attached: it comes back from its last offset, same screen, no gap, no duplicate', async () => {
    const { hubHome, h, th, machineId, sessionId } = await hubSession(t);
    const { cookie } = await signIn(h.httpUrl, h.ownerToken);
    const v1 = wsViewer(h.httpUrl, machineId, sessionId, { cookie });
    await waitFor(() => v1.texts.length > 0, 10_000, 'the snapshot');
    v1.type('a');
    await waitFor(() => v1.text().includes('got "a"'), 10_000, 'the echo');
    const ports = { HAPI_HUB_GRPC_PORT: new URL(h.grpcUrl).port, HAPI_HUB_HTTP_PORT: new URL(h.httpUrl).port };
    await h.stop('SIGTERM');
    expect(await v1.closed).toBe(1012);
    // Output while the hub is down: the viewer must get it after the restart.
    expect((await th.cli(['send', sessionId, 'b'])).code).toBe(0);
    const h2 = await startHubProcess(hubHome, ports, h.ownerToken);
    t.hubs.push(h2);
    // The page's reconnect loop: attach again with the last offset until the runner is back.
    let v2 = wsViewer(h2.httpUrl, machineId, sessionId, { cookie, lastOffset: v1.held() });
    await waitFor(async () => {
      if (v2.text().includes('pasted "b"')) return true;
      if (v2.closeCode() !== undefined) v2 = wsViewer(h2.httpUrl, machineId, sessionId, { cookie, lastOffset: v1.held() });
      return false;
    }, 30_000, 'the viewer back with the output it missed');
    expect(v2.texts.filter((x) => x.type === 'snapshot')).toHaveLength(0);
    // Without a snapshot, `attached` is how a page learns the hub took the resume (it is live).
    expect(v2.texts.filter((x) => x.type === 'attached')).toHaveLength(1);
    expect(v2.outputs[0]!.offset).toBe(v1.held());
    const both = [...v1.outputs, ...v2.outputs];
    expect(contiguous(both)).toBe(true);
    expect(Buffer.concat(both.map((x) => x.data)).toString('utf8').match(/got "a"/g)).toHaveLength(1);
  });

  it('a paste typed while the runner is away waits for it and arrives once, on the same socket', async () => {
    const { h, th, c, machineId, sessionId } = await hubSession(t);
    const { cookie } = await signIn(h.httpUrl, h.ownerToken);
    const v = wsViewer(h.httpUrl, machineId, sessionId, { cookie });
    await waitFor(() => v.texts.find((x) => x.type === 'snapshot'), 10_000, 'the snapshot');
    const pid = th.state()!.pid;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid), 10_000, 'the runner to die');
    // Once the hub knows (what reaches a runner that is gone, unknowing, is lost with it).
    await waitMachine(c, machineId, (m) => !m.online);
    // The machine is offline now: before, this paste failed (UNAVAILABLE) and closed the socket.
    v.ws.send(JSON.stringify({ type: 'input', text: 'while away', paste: true, enter: true }));
    v.type('k');
    expect((await th.cli(['runner', 'start'])).code).toBe(0);
    await waitFor(() => v.text().includes('pasted "while away"'), 30_000, 'the paste once the runner is back');
    // The keystroke goes down the attach stream, the paste beside it (SendInput): when both reach
    // the agent in one read, it shows the paste's Enter and the key together (`got "\rk"`).
    await waitFor(() => /got "(?:\\r)?k"/.test(v.text()), 10_000, 'the keystroke kept meanwhile');
    expect(v.text().match(/pasted "while away"/g)).toHaveLength(1);
    expect(v.closeCode()).toBeUndefined();
    expect(v.texts.filter((x) => x.type === 'error')).toEqual([]);
  });

  it('a stalled viewer does not stall a second one; it gets a fresh snapshot when it reads again', async () => {
    const { h, machineId, sessionId } = await hubSession(t, { HAPI_HUB_VIEWER_BUFFER_BYTES: String(256 * 1024) }, ['--flood', '20000000']);
    const { cookie } = await signIn(h.httpUrl, h.ownerToken);
    const stalled = wsViewer(h.httpUrl, machineId, sessionId, { cookie, stall: true });
    await waitFor(() => stalled.texts.length > 0, 10_000, 'the stalled viewer’s snapshot');
    const live = wsViewer(h.httpUrl, machineId, sessionId, { cookie });
    await waitFor(() => live.texts.length > 0, 10_000, 'the live viewer’s snapshot');
    live.type('F');
    // The live viewer gets the whole flood while the other one reads nothing.
    // Its end is in the output, or in the screen of a fresh snapshot when it fell behind at the very end.
    const floodDone = () => live.tail().includes('flood done') || live.texts.some((x) => x.type === 'snapshot' && String(x.screen).includes('flood done'));
    await waitFor(floodDone, 120_000, 'the live viewer to get the whole flood');
    // Every line in order: from each snapshot on, output is contiguous (a snapshot only if this viewer fell behind itself).
    const text = Buffer.concat(live.outputs.map((x) => x.data)).toString('latin1');
    const numbers = [...text.matchAll(/flood (\d{8})[^\r\n]*\r*\n/g)].map((m) => Number(m[1]));
    const snapshots = live.texts.filter((x) => x.type === 'snapshot').length;
    if (snapshots === 1) {
      // The fixture writes 80-byte lines.
      expect(numbers).toHaveLength(Math.ceil(20_000_000 / 80));
      expect(numbers.every((n, i) => n === i)).toBe(true);
      expect(contiguous(live.outputs)).toBe(true);
    }
    expect(numbers.every((n, i) => i === 0 || n > numbers[i - 1]!)).toBe(true);
    // The stalled one reads again: a fresh snapshot, then live output.
    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await waitFor(() => stalled.texts.filter((x) => x.type === 'snapshot').length >= 2, 30_000, 'a fresh snapshot for the stalled viewer');
    live.type('z');
    await waitFor(() => stalled.text().includes('got "z"'), 20_000, 'the stalled viewer live again');
  }, 240_000);
});
